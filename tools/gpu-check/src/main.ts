/**
 * `sh unias-gpu-check.sh [options]` runs this (see docs/devices.md): the device against
 * onnxruntime's CPU provider, then the paper preset's times; the result goes to stdout as lines and
 * to a JSON file. Exit 0: parity holds; 1: it does not; 2: bad arguments or no GPU.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { isDeviceRequest } from '@unias/backend-onnx';
import { runGpuCheck } from '@unias/conformance';
import { isPresetName } from '@unias/model';
import { writeFileAtomic } from '@unias/graph';

const USAGE = `usage: unias-gpu-check.sh [--device auto|webgpu|cuda] [--out FILE] [--size N] [--steps N]
                          [--timing-preset NAME] [--paper-size N] [--batches 1,8] [--repeats N]
                          [--no-timing] [--no-cpu-timing]
                          [--allow-software] [--threads N]

  --device D          the device to check (default auto: CUDA, else WebGPU on a hardware GPU)
  --out FILE          the JSON result (default ./unias-gpu-check.json)
  --size N            input size of the parity checks (small preset; default 224)
  --steps N           training steps compared (default 5)
  --timing-preset P   the preset timed (default paper; cpu, small, visa, uniad-baseline)
  --paper-size N      input size of the timed preset (default 224)
  --batches A,B       timed batch sizes (default 1,8)
  --repeats N         timed runs after one warm-up (default 3)
  --no-timing         parity only
  --no-cpu-timing     time the device only
  --allow-software    accept a software Vulkan driver (SwiftShader): to try the check without a GPU
  --threads N         onnxruntime CPU threads (default: all cores)`;

function int(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} must be an integer >= 1, got '${raw}'`);
  return v;
}

async function main(): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        device: { type: 'string' },
        out: { type: 'string' },
        size: { type: 'string' },
        steps: { type: 'string' },
        'timing-preset': { type: 'string' },
        'paper-size': { type: 'string' },
        batches: { type: 'string' },
        repeats: { type: 'string' },
        'no-timing': { type: 'boolean' },
        'no-cpu-timing': { type: 'boolean' },
        'allow-software': { type: 'boolean' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
    if (v.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const device = v.device ?? 'auto';
    if (!isDeviceRequest(device)) throw new Error(`--device must be auto, webgpu, cuda or cpu, got '${device}'`);
    const timedPreset = v['timing-preset'] ?? 'paper';
    if (!isPresetName(timedPreset)) throw new Error(`--timing-preset must be a preset name, got '${timedPreset}'`);
    const batches = (v.batches ?? '1,8').split(',').map((b) => int('batches', b.trim(), 1));
    const out = resolve(v.out ?? 'unias-gpu-check.json');
    const log = (line: string) => process.stdout.write(`${line}\n`);
    let result;
    try {
      result = await runGpuCheck({
        device,
        allowSoftware: v['allow-software'] === true,
        parity: { preset: 'small', size: int('size', v.size, 224), batch: 2, steps: int('steps', v.steps, 5) },
        timing: v['no-timing']
          ? null
          : {
              preset: timedPreset,
              size: int('paper-size', v['paper-size'], 224),
              batches,
              repeats: int('repeats', v.repeats, 3),
              cpu: v['no-cpu-timing'] !== true,
            },
        ...(v.threads !== undefined ? { threads: int('threads', v.threads, 1) } : {}),
        log,
      });
    } catch (e) {
      const message = (e as Error).message.split('\n')[0]!;
      process.stderr.write(`unias-gpu-check: ${message}\n`);
      return message.startsWith('no GPU device') || message.startsWith('device ') ? 2 : 1;
    }
    await writeFileAtomic(out, `${JSON.stringify({ node: process.version, ...result }, null, 2)}\n`);
    log(`${result.pass ? 'PASS' : 'FAIL'}: ${out}`);
    return result.pass ? 0 : 1;
  } catch (e) {
    process.stderr.write(`unias-gpu-check: ${(e as Error).message.split('\n')[0]}\n\n${USAGE}\n`);
    return 2;
  }
}

process.exitCode = await main();
