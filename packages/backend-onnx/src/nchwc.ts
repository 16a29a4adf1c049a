/**
 * Whether, and with which channel block, a CPU session of onnxruntime runs convolutions in its
 * blocked layout (see @unias/onnx-lowering's blocked-conv.ts): probed once per process.
 */
import { createGraph, createRng } from '@unias/graph';
import { encodeModel, lowerGraph, nchwcBlockProbeModel, type OnnxExportOptions } from '@unias/onnx-lowering';
import type { OrtModule } from './ort-tensor.js';

/** UNIAS_ORT_BLOCKED_CONV=0 keeps every convolution a plain ONNX Conv. */
export const BLOCKED_CONV_OPT_OUT = 'UNIAS_ORT_BLOCKED_CONV';

/** MLAS's blocks with AVX2 and AVX-512; the eligibility threshold was measured with 16. */
const USED_BLOCKS: readonly number[] = [8, 16];

let probed: Promise<number | undefined> | undefined;

/** onnxruntime's NCHWc block here when its blocked convolutions work and are used, else undefined. */
export function nchwcBlock(ort: OrtModule): Promise<number | undefined> {
  probed ??= probeBlock(ort).catch(() => undefined);
  return probed;
}

async function probeBlock(ort: OrtModule): Promise<number | undefined> {
  const y = await runOnce(ort, encodeModel(nchwcBlockProbeModel()), { x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
  const block = y['y']!.dims[1]!;
  if (!USED_BLOCKS.includes(block)) return undefined;
  return (await blockedMatchesPlain(ort, block)) ? block : undefined;
}

/**
 * One convolution with a weight and bias fed at run time, lowered blocked and plain, on the same
 * random values: the block and the weight order are the ones this build of onnxruntime expects.
 */
async function blockedMatchesPlain(ort: OrtModule, block: number): Promise<boolean> {
  const b = createGraph();
  const x = b.input('x', [2, 2 * block, 7, 5]);
  const w = b.input('w', [block, 2 * block, 3, 3]);
  const bias = b.input('bias', [block]);
  b.output('y', b.conv2d(x, w, bias, { padding: 'same' }));
  const graph = b.build();
  const rng = createRng(7);
  const feeds: Record<string, InstanceType<OrtModule['Tensor']>> = {};
  for (const [name, input] of graph.inputs) {
    const size = input.shape.reduce((p, d) => p * d, 1);
    feeds[name] = new ort.Tensor('float32', rng.fillUniform(new Float32Array(size), -1, 1), [...input.shape]);
  }
  const run = (options: OnnxExportOptions) => runOnce(ort, encodeModel(lowerGraph(graph, options).model), feeds);
  const plain = (await run({}))['y']!.data as Float32Array;
  const blocked = (await run({ nchwcBlock: block }))['y']!.data as Float32Array;
  // sums of 2 * block * 9 products of values in [-1, 1]: float32 rounding is far below 1e-4
  return plain.length === blocked.length && plain.every((v, i) => Math.abs(v - blocked[i]!) <= 1e-4);
}

async function runOnce(ort: OrtModule, bytes: Uint8Array, feeds: Record<string, InstanceType<OrtModule['Tensor']>>) {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}
