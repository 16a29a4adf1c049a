/**
 * The lowering (@unias/onnx-lowering, re-exported here) run for real: its structure is tested in
 * that package; here onnxruntime loads what it writes and gives the backend's results.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGraph, createRng, initParams } from '@unias/graph';
import { maxRelError, uniform } from '@unias/graph/testing';
import { buildTestNet } from '@unias/onnx-lowering/testing';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend, toOnnxModel, writeOnnxFile } from './index.js';

const graph = buildTestNet(2);
const params = initParams(graph, 7);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-onnx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('toOnnxModel', () => {
  it('runs with the graph output names, also when an output is an input, a param or another output', async () => {
    const b = createGraph();
    const x = b.input('x', [3]);
    const p = b.param('p', [3], { kind: 'ones' });
    const y = b.add(x, p);
    b.output('y', y);
    b.output('y_again', y);
    b.output('x_out', x);
    b.output('p_out', p);
    const session = await ort.InferenceSession.create(toOnnxModel(b.build()));
    const out = await session.run({
      x: new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]),
      p: new ort.Tensor('float32', Float32Array.from([1, 1, 1]), [3]),
    });
    expect([...(out.y!.data as Float32Array)]).toEqual([2, 3, 4]);
    expect([...(out.y_again!.data as Float32Array)]).toEqual([2, 3, 4]);
    expect([...(out.x_out!.data as Float32Array)]).toEqual([1, 2, 3]);
    expect([...(out.p_out!.data as Float32Array)]).toEqual([1, 1, 1]);
    await session.release();
  });
});

describe('writeOnnxFile', () => {
  it('writes a model that a fresh ORT session loads and runs to the same outputs', async () => {
    const path = join(dir, 'net.onnx');
    await writeOnnxFile(path, graph, { params, dynamicBatch: true, metadata: { seed: '7' } });

    const backend = await createOnnxBackend({ intraOpNumThreads: 1 });
    const session = await backend.prepare(graph, { params, dynamicBatch: true });
    const fresh = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    try {
      for (const n of [2, 3]) {
        const image = uniform(createRng(n), [n, 3, 9, 8]);
        const viaBackend = await session.run({ image });
        const viaFile = await fresh.run({ image: new ort.Tensor('float32', image.data as Float32Array, [n, 3, 9, 8]) });
        for (const name of session.outputNames) {
          const f = viaFile[name]!;
          expect([...f.dims], name).toEqual(viaBackend[name]!.shape);
          expect(maxRelError(f.data as Float32Array, viaBackend[name]!.data), name).toBeLessThanOrEqual(1e-6);
        }
      }
    } finally {
      await session.dispose();
      await fresh.release();
    }
  });
});
