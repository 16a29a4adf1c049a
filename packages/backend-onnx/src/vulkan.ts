/**
 * What Vulkan this machine has, found the way the Vulkan loader finds it (Linux): the loader
 * library, the driver (ICD) manifests it would read, and whether any driver is a hardware GPU.
 * onnxruntime's WebGPU provider runs on Dawn over Vulkan, so this decides whether `webgpu` can
 * work at all, and whether it is worth choosing: a software driver (SwiftShader, lavapipe) runs
 * far slower than the CPU provider, so `auto` takes WebGPU only over a hardware driver.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { findLibrary, libraryDirs, split } from './library-search.js';

export type VulkanDriverKind = 'hardware' | 'software' | 'broken';

export interface VulkanDriver {
  /** The ICD manifest (JSON) that names it. */
  readonly manifest: string;
  /** Its `ICD.library_path` as written. */
  readonly library: string;
  /** Who makes it, from the library's name ("NVIDIA", "SwiftShader", ...; "unknown" when not recognised). */
  readonly vendor: string;
  /** hardware: a GPU's driver; software: a CPU rasteriser; broken: the manifest or its library is unusable. */
  readonly kind: VulkanDriverKind;
  /** Why it is broken, when it is. */
  readonly problem?: string;
}

export interface VulkanInfo {
  /** Where `libvulkan.so.1` (the loader) was found, or undefined. */
  readonly loader: string | undefined;
  /** Where the manifests were looked for (an env variable or the standard folders). */
  readonly searched: string;
  readonly drivers: readonly VulkanDriver[];
  /** GPU device nodes (/dev/nvidia0, /dev/dri/renderD128, ...). */
  readonly deviceNodes: readonly string[];
  /** A hardware driver is installed and a GPU device node exists. */
  readonly hardwareGpu: boolean;
  /** One line saying how `hardwareGpu` was decided. */
  readonly how: string;
  /**
   * glvnd's libraries not found here while an NVIDIA driver is installed: NVIDIA's Vulkan driver
   * loads without them but creates no instance (seen in a CUDA container on an H200).
   */
  readonly glvndMissing: readonly string[];
}

/** The glvnd libraries NVIDIA's Vulkan driver dispatches through. */
export const GLVND_LIBRARIES = ['libGLdispatch.so.0', 'libEGL.so.1', 'libGLX.so.0'] as const;
/** How to install them. */
export const GLVND_INSTALL = 'Debian/Ubuntu: apt-get install libglvnd0 libegl1 libglx0';

export interface VulkanProbeOptions {
  /** Environment to read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Folder prefix for the fixed system paths (/usr, /etc, /dev, ...), for tests; default "/". */
  readonly root?: string;
}

/** Library-name patterns of known drivers; software ones first (some hardware names are substrings). */
const KNOWN_DRIVERS: ReadonlyArray<{ pattern: RegExp; vendor: string; kind: 'hardware' | 'software' }> = [
  { pattern: /swiftshader/i, vendor: 'SwiftShader', kind: 'software' },
  { pattern: /lvp|lavapipe/i, vendor: 'lavapipe', kind: 'software' },
  { pattern: /mock_icd/i, vendor: 'mock', kind: 'software' },
  { pattern: /nvidia/i, vendor: 'NVIDIA', kind: 'hardware' },
  { pattern: /radeon|radv|amdvlk|amdgpu/i, vendor: 'AMD', kind: 'hardware' },
  { pattern: /intel|anv/i, vendor: 'Intel', kind: 'hardware' },
  { pattern: /dzn|dozen/i, vendor: 'Dozen (D3D12)', kind: 'hardware' },
  { pattern: /freedreno|turnip/i, vendor: 'Qualcomm', kind: 'hardware' },
  { pattern: /broadcom|v3dv|panvk|powervr|asahi|nouveau|virtio/i, vendor: 'Mesa GPU', kind: 'hardware' },
];

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Where the loader reads manifests from (the Vulkan loader's documented Linux search order). */
function manifestSources(env: VulkanProbeOptions['env'] & object, root: string): { paths: string[]; searched: string } {
  const override = env['VK_DRIVER_FILES'] ?? env['VK_ICD_FILENAMES'];
  const add = split(env['VK_ADD_DRIVER_FILES']);
  if (override !== undefined) {
    const name = env['VK_DRIVER_FILES'] !== undefined ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES';
    return { paths: [...split(override), ...add], searched: `${name}=${override}` };
  }
  const home = env['HOME'] ?? homedir();
  const configDirs = [env['XDG_CONFIG_HOME'] ?? join(home, '.config'), ...split(env['XDG_CONFIG_DIRS'] ?? '/etc/xdg')];
  const dataDirs = [env['XDG_DATA_HOME'] ?? join(home, '.local', 'share'), ...split(env['XDG_DATA_DIRS'] ?? '/usr/local/share:/usr/share')];
  const system = (p: string) => (p.startsWith('/') && root !== '/' ? join(root, p) : p);
  const dirs = [
    ...configDirs.map((d) => system(join(d, 'vulkan', 'icd.d'))),
    system('/etc/vulkan/icd.d'),
    ...dataDirs.map((d) => system(join(d, 'vulkan', 'icd.d'))),
  ];
  return { paths: [...add, ...dirs], searched: 'the standard manifest folders (/etc/vulkan/icd.d, /usr/share/vulkan/icd.d, ...)' };
}

function manifestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (isDir(p)) {
      for (const f of readdirSync(p).sort()) if (f.endsWith('.json')) out.push(join(p, f));
    } else if (existsSync(p)) {
      out.push(p);
    } else if (p.endsWith('.json')) {
      out.push(p); // named but missing: reported as broken
    }
  }
  return [...new Set(out.map((f) => resolve(f)))];
}

/** Whether a library name the loader would dlopen can be found (a bare name: the library folders). */
function libraryExists(library: string, manifest: string, libDirs: readonly string[]): boolean {
  if (isAbsolute(library)) return existsSync(library);
  if (library.includes('/')) return existsSync(resolve(dirname(manifest), library));
  return libDirs.some((d) => existsSync(join(d, library)));
}

function readDriver(manifest: string, libDirs: readonly string[]): VulkanDriver {
  let library = '';
  try {
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: unknown } };
    if (typeof json.ICD?.library_path !== 'string') {
      return { manifest, library, vendor: 'unknown', kind: 'broken', problem: 'no ICD.library_path in the manifest' };
    }
    library = json.ICD.library_path;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the manifest does not exist' : `unreadable manifest: ${(e as Error).message.split('\n')[0]}`;
    return { manifest, library, vendor: 'unknown', kind: 'broken', problem: why };
  }
  const known = KNOWN_DRIVERS.find((d) => d.pattern.test(basename(library)) || d.pattern.test(basename(manifest)));
  const vendor = known?.vendor ?? 'unknown';
  if (!libraryExists(library, manifest, libDirs)) return { manifest, library, vendor, kind: 'broken', problem: `its library ${library} is not there` };
  // An unrecognised driver counts as hardware: every software driver in use is in the list above.
  return { manifest, library, vendor, kind: known?.kind ?? 'hardware' };
}

function gpuDeviceNodes(root: string): string[] {
  const dev = join(root, 'dev');
  const out: string[] = [];
  try {
    for (const f of readdirSync(dev).sort()) if (/^nvidia\d+$/.test(f)) out.push(`/dev/${f}`);
  } catch {
    // no /dev to read
  }
  try {
    for (const f of readdirSync(join(dev, 'dri')).sort()) if (/^renderD\d+$/.test(f)) out.push(`/dev/dri/${f}`);
  } catch {
    // no DRI devices
  }
  return out;
}

export function describeDriver(d: VulkanDriver): string {
  const what = d.kind === 'broken' ? `broken: ${d.problem}` : d.kind;
  return `${d.vendor} (${what}; ${d.manifest})`;
}

/** Reads the Vulkan setup without loading Vulkan (no driver code runs). */
export function detectVulkan(options: VulkanProbeOptions = {}): VulkanInfo {
  const env = options.env ?? process.env;
  const root = options.root ?? '/';
  const libDirs = libraryDirs(env, root);
  const loader = findLibrary('libvulkan.so.1', libDirs);
  const { paths, searched } = manifestSources(env, root);
  const drivers = manifestFiles(paths).map((m) => readDriver(m, libDirs));
  const deviceNodes = gpuDeviceNodes(root);
  const hardware = drivers.filter((d) => d.kind === 'hardware');
  const software = drivers.filter((d) => d.kind === 'software');
  let how: string;
  if (drivers.length === 0) how = `no Vulkan driver manifest in ${searched}`;
  else if (hardware.length === 0) how = `only software Vulkan drivers (${software.map((d) => d.vendor).join(', ') || 'none usable'}) in ${searched}`;
  else if (deviceNodes.length === 0)
    how = `hardware Vulkan driver ${hardware.map((d) => d.vendor).join(', ')} installed but no GPU device node (/dev/nvidia*, /dev/dri/renderD*)`;
  else how = `hardware Vulkan driver ${hardware.map((d) => d.vendor).join(', ')} (${hardware[0]!.manifest}) and GPU device ${deviceNodes.join(', ')}`;
  return {
    loader,
    searched,
    drivers,
    deviceNodes,
    hardwareGpu: hardware.length > 0 && deviceNodes.length > 0,
    how,
    glvndMissing: hardware.some((d) => d.vendor === 'NVIDIA') ? GLVND_LIBRARIES.filter((n) => !findLibrary(n, libDirs)) : [],
  };
}
