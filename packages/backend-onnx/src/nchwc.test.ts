import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { createGraph, createRng, grad, initParams, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError, uniform } from '@unias/graph/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOCKED_CONV_OPT_OUT, createOnnxBackend, loadOnnxRuntime, lowerGraph, NCHWC_DOMAIN, nchwcBlock } from './index.js';

/** The block MLAS takes from the processor's features on x86-64 Linux (AVX-512F: 16, AVX2: 8), else undefined. */
function blockFromCpuFlags(): number | undefined {
  if (arch() !== 'x64') return undefined;
  let flags: string[];
  try {
    flags = (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').split(/\s+/);
  } catch {
    return undefined;
  }
  if (flags.includes('avx512f')) return 16;
  return flags.includes('avx2') ? 8 : undefined;
}

const expected = blockFromCpuFlags();

describe('onnxruntime blocked convolutions (NCHWc)', () => {
  afterEach(() => {
    delete process.env[BLOCKED_CONV_OPT_OUT];
  });

  it.runIf(expected !== undefined)("the probe finds the block of this processor's features", async () => {
    expect(await nchwcBlock(await loadOnnxRuntime())).toBe(expected);
  });

  it('the backend blocks on the CPU provider alone, unless told not to', async () => {
    const block = await nchwcBlock(await loadOnnxRuntime());
    expect(await (await createOnnxBackend()).blockedConvBlock()).toBe(block);
    expect(await (await createOnnxBackend({ blockedConv: false })).blockedConvBlock()).toBeUndefined();
    expect(await (await createOnnxBackend({ executionProviders: ['webgpu', 'cpu'] })).blockedConvBlock()).toBeUndefined();
    process.env[BLOCKED_CONV_OPT_OUT] = '0';
    expect(await (await createOnnxBackend()).blockedConvBlock()).toBeUndefined();
  });

  it.runIf(expected !== undefined)('a conv net and its gradients, blocked, match the float64 reference', async () => {
    const b = createGraph();
    const x = b.input('x', [2, 16, 10, 9]);
    const w1 = b.param('w1', [32, 16, 3, 3], { kind: 'normal', mean: 0, std: 0.2 });
    const bias = b.param('bias', [32], { kind: 'normal', mean: 0, std: 0.2 });
    const w2 = b.param('w2', [16, 32, 3, 3], { kind: 'normal', mean: 0, std: 0.2 });
    const y = b.conv2d(b.relu(b.conv2d(x, w1, bias, { padding: 'same' })), w2, null, { padding: [1, 0, 2, 1] });
    const loss = b.sum(b.square(y), [0, 1, 2, 3]);
    const [dw1, dw2, dx] = grad(b, loss, [w1, w2, x]);
    b.output('y', y);
    b.output('dw1', dw1!);
    b.output('dw2', dw2!);
    b.output('dx', dx!);
    const graph = b.build();

    const backend = await createOnnxBackend({ intraOpNumThreads: 1 });
    const block = (await backend.blockedConvBlock())!;
    // the forward convs and the input gradients' stride-1 convs run blocked
    const blocked = lowerGraph(graph, { nchwcBlock: block }).model.graph!.node!.filter((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv');
    expect(blocked.length).toBeGreaterThanOrEqual(3);

    const params = initParams(graph, 3);
    const feeds: Record<string, TensorData> = { x: uniform(createRng(5), [2, 16, 10, 9]) };
    for (const [name, value] of params) feeds[name] = value;
    const session = await backend.prepare(graph);
    const got = await session.run(feeds);
    await session.dispose();
    const want = evaluateReference(graph, feeds);
    for (const name of ['y', 'dw1', 'dw2', 'dx']) expect(maxRelError(got[name]!.data, want[name]!.data), name).toBeLessThan(1e-5);
  });
});
