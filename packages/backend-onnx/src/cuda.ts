/**
 * Whether onnxruntime's CUDA provider can run here, found without loading it: the provider library
 * that `ONNXRUNTIME_NODE_INSTALL=cuda12` downloads beside the binding, the NVIDIA driver, and the
 * CUDA 12 / cuDNN 9 libraries it links to (docs/devices.md).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { findLibrary, libraryDirs } from './library-search.js';

/** What the CUDA provider of onnxruntime 1.30 loads (CUDA 12, cuDNN 9), with the driver first. */
export const CUDA_LIBRARIES = [
  'libcuda.so.1',
  'libcudart.so.12',
  'libcublas.so.12',
  'libcublasLt.so.12',
  'libcufft.so.11',
  'libcurand.so.10',
  'libcudnn.so.9',
] as const;

export interface CudaInfo {
  /** ORT's libonnxruntime_providers_cuda.so beside the binding, or undefined (with `providerProblem`). */
  readonly provider: string | undefined;
  readonly providerProblem?: string;
  /** Each library in CUDA_LIBRARIES and where it was found (undefined: not found). */
  readonly libraries: ReadonlyArray<{ readonly name: string; readonly path: string | undefined }>;
  /** /dev/nvidia0, ... */
  readonly deviceNodes: readonly string[];
  /** Every piece is there (the provider may still fail to load: only loading it tells). */
  readonly complete: boolean;
  /** What is missing, one line, or '' when nothing is. */
  readonly missing: string;
}

/** The folder of onnxruntime-node's native binding for this platform, or undefined. */
export function ortBindingDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const dir = join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

export function detectCuda(options: { env?: Readonly<Record<string, string | undefined>>; root?: string; bindingDir?: string | null } = {}): CudaInfo {
  const env = options.env ?? process.env;
  const root = options.root ?? '/';
  const dirs = libraryDirs(env, root);
  const bindingDir = options.bindingDir === null ? undefined : (options.bindingDir ?? ortBindingDir());
  const file = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  let provider: string | undefined;
  let providerProblem: string | undefined;
  if (!bindingDir) providerProblem = "onnxruntime-node's binding folder was not found";
  else if (existsSync(join(bindingDir, file))) provider = join(bindingDir, file);
  else providerProblem = `no ${file} beside the onnxruntime binding (install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12)`;
  const libraries = CUDA_LIBRARIES.map((name) => ({ name, path: findLibrary(name, dirs) }));
  let deviceNodes: string[] = [];
  try {
    deviceNodes = readdirSync(join(root, 'dev'))
      .filter((f) => /^nvidia\d+$/.test(f))
      .sort()
      .map((f) => `/dev/${f}`);
  } catch {
    // no /dev
  }
  const absent = libraries.filter((l) => !l.path).map((l) => l.name);
  const parts = [
    ...(providerProblem ? [providerProblem] : []),
    ...(absent.length > 0 ? [`libraries not found: ${absent.join(', ')}`] : []),
    ...(deviceNodes.length === 0 ? ['no NVIDIA device (/dev/nvidia*)'] : []),
  ];
  return {
    provider,
    ...(providerProblem ? { providerProblem } : {}),
    libraries,
    deviceNodes,
    complete: parts.length === 0,
    missing: parts.join('; '),
  };
}
