import { readFile } from 'node:fs/promises';
import { cpus, freemem, totalmem } from 'node:os';
import type { Command } from '../command.js';
import { flag, parse } from '../args.js';
import { findSetpriv } from '../huge-pages-respawn.js';

const USAGE = `usage: unias doctor [--json]

The runtimes and devices found on this machine, and what to install for the missing ones:
onnxruntime's providers and which devices run (cpu, webgpu, cuda; the check \`--device\` makes, with
a tiny model run on each), what \`--device auto\` picks and why, the Vulkan setup behind webgpu
(loader, drivers, GPU device nodes: how a hardware GPU was told from a software driver), the CUDA
libraries behind cuda, the tfjs runtimes, cores, processor features, memory and whether large
buffers get huge pages. See docs/devices.md.

  --json   the same as one JSON object on stdout`;

/** Processor features that decide onnxruntime's CPU kernels (fp32 AVX-512, int8 VNNI, AMX). */
const CPU_FEATURES = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_int8', 'amx_bf16'];

async function cpuFeatures(): Promise<string[]> {
  const info = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(info)?.[1]?.split(/\s+/) ?? []);
  return CPU_FEATURES.filter((f) => flags.has(f));
}

async function tfjsRuntimes(): Promise<Array<{ name: string; usable: boolean; detail: string }>> {
  const { tfjsBackendCandidates } = await import('@unias/backend-tfjs');
  const out: Array<{ name: string; usable: boolean; detail: string }> = [];
  for (const candidate of tfjsBackendCandidates()) {
    try {
      const b = await candidate.load();
      out.push({ name: candidate.name, usable: true, detail: `tfjs backend "${(b as { tfBackend?: string }).tfBackend ?? b.name}"` });
    } catch (e) {
      out.push({ name: candidate.name, usable: false, detail: (e as Error).message.split('\n')[0]! });
    }
  }
  return out;
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;

export const command: Command = {
  name: 'doctor',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, { json: { type: 'boolean' } });
    const { inspectOnnxDevices, describeDriver, hugePageStatus, HUGE_PAGE_TUNABLE } = await import('@unias/backend-onnx');
    const onnx = await inspectOnnxDevices();
    const tfjs = await tfjsRuntimes();
    const cores = cpus();
    const machine = {
      platform: `${process.platform} ${process.arch}`,
      node: process.version,
      cores: cores.length,
      cpu: cores[0]?.model.trim() ?? 'unknown',
      cpu_features: await cpuFeatures(),
      memory_total_bytes: totalmem(),
      memory_free_bytes: freemem(),
      // of this process: the commands that run models start themselves with huge pages where they can
      huge_pages: hugePageStatus(),
    };
    const install = [...onnx.install];
    if (machine.huge_pages.canEnable && !findSetpriv())
      install.push(
        `huge pages (optional, faster training): util-linux's setpriv, with which \`unias\` starts itself with GLIBC_TUNABLES=${HUGE_PAGE_TUNABLE}; or set that yourself`,
      );
    if (!tfjs.find((t) => t.name === 'tfjs-node')?.usable)
      install.push('tfjs (optional): npm i @tensorflow/tfjs-node, or -gpu with CUDA (their install downloads libtensorflow)');
    if (flag(args, 'json')) {
      process.stdout.write(`${JSON.stringify({ machine, onnxruntime: onnx, tfjs, install }, null, 2)}\n`);
      return 0;
    }
    const yes = (usable: boolean, detail: string) => (usable ? `yes${detail ? ` (${detail})` : ''}` : `no: ${detail}`);
    const lines = [
      'machine',
      `  platform   ${machine.platform}, Node ${machine.node}`,
      `  cores      ${machine.cores} (${machine.cpu}${machine.cpu_features.length > 0 ? `; ${machine.cpu_features.join(' ')}` : ''})`,
      `  memory     ${gib(machine.memory_total_bytes)} total, ${gib(machine.memory_free_bytes)} free`,
      `  huge pages ${machine.huge_pages.active ? 'yes' : 'no'}: ${machine.huge_pages.reason}`,
      '',
      onnx.version ? `onnxruntime-node ${onnx.version}` : `onnxruntime-node: does not load (${onnx.loadError})`,
      `  providers  ${onnx.providers.map((p) => `${p.name}${p.bundled ? '' : ' (separate download)'}`).join(', ') || 'none'}`,
      ...onnx.devices.map((d) => `  ${d.device.padEnd(10)} ${yes(d.usable, d.detail)}`),
      ...(onnx.auto
        ? [`  auto       ${onnx.auto.device} (${onnx.auto.why})`, ...onnx.auto.skipped.map((s) => `             skipped ${s.device}: ${s.reason}`)]
        : []),
      ...(onnx.version
        ? [
            `  cpu convs  ${onnx.blockedConvBlock ? `blocked NCHWc kernels (block ${onnx.blockedConvBlock}) for weights fed at run time (training)` : 'plain Conv only (no blocked kernels here, or UNIAS_ORT_BLOCKED_CONV=0)'}`,
          ]
        : []),
      '',
      'Vulkan (for webgpu)',
      `  loader     ${onnx.vulkan.loader ?? 'not found (libvulkan.so.1)'}`,
      `  drivers    ${onnx.vulkan.drivers.length === 0 ? `none in ${onnx.vulkan.searched}` : onnx.vulkan.drivers.map(describeDriver).join('\n             ')}`,
      `  GPU nodes  ${onnx.vulkan.deviceNodes.join(', ') || 'none (/dev/nvidia*, /dev/dri/renderD*)'}`,
      `  hardware   ${onnx.vulkan.hardwareGpu ? 'yes' : 'no'}: ${onnx.vulkan.how}`,
      ...(onnx.vulkan.glvndMissing.length > 0 ? [`  glvnd      missing ${onnx.vulkan.glvndMissing.join(', ')} (NVIDIA's Vulkan driver needs them)`] : []),
      '',
      'CUDA (for cuda)',
      `  provider   ${onnx.cuda.provider ?? `not installed: ${onnx.cuda.providerProblem}`}`,
      `  libraries  ${onnx.cuda.libraries.map((l) => `${l.name} ${l.path ? 'found' : 'missing'}`).join(', ')}`,
      `  devices    ${onnx.cuda.deviceNodes.join(', ') || 'none (/dev/nvidia*)'}`,
      '',
      'tfjs',
      ...tfjs.map((t) => `  ${t.name.padEnd(14)} ${yes(t.usable, t.detail)}`),
      '',
      install.length > 0 ? 'to install for what is missing' : 'nothing is missing',
      ...install.map((l) => `  - ${l}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
