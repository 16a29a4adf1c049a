import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGraph, initParams } from '@unias/graph';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_DIM, lowerGraph, OPSET, toOnnxModel, writeOnnxFile } from './index.js';
import { buildTestNet } from './testing/test-net.js';

const { onnx } = onnxProto;
/** A decoded model's graph (decoding fills every repeated field). */
const graphOf = (model: OnnxTypes.ModelProto) => model.graph as OnnxTypes.GraphProto;
const graph = buildTestNet(2);
const params = initParams(graph, 7);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-onnx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function dims(v: { type?: { tensorType?: { shape?: { dim?: Array<{ dimValue?: unknown; dimParam?: string | null }> | null } | null } | null } | null }) {
  return (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
}

describe('toOnnxModel', () => {
  it('writes opset 18, producer, metadata, readable node names, initializers for bound params', () => {
    const bytes = toOnnxModel(graph, { params, metadata: { model: 'test-net', image_size: '9x8' }, docString: 'a test network' });
    const model = onnx.ModelProto.decode(bytes);
    expect(model.producerName).toBe('unias.ts');
    expect(model.docString).toBe('a test network');
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', OPSET]]);
    expect(Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]))).toEqual({ model: 'test-net', image_size: '9x8' });
    const g = graphOf(model);
    expect(g.input.map((i) => i.name)).toEqual(['image']);
    expect(g.output.map((o) => o.name).sort()).toEqual(['features', 'logits', 'score', 'similarity']);
    const inits = new Set(g.initializer.map((t) => t.name));
    for (const name of params.keys()) expect(inits.has(name), name).toBe(true);
    // Node names carry the op's scope and id, e.g. "stem/conv2d_3".
    const conv = g.node.find((n) => n.opType === 'Conv')!;
    expect(conv.name).toMatch(/^stem\/conv2d_\d+$/);
    expect(conv.input!.slice(1)).toEqual(['stem.weight', 'stem.bias']);
    // GELU is one Erf composition inside the stem scope.
    expect(g.node.filter((n) => n.opType === 'Erf').map((n) => n.name)).toEqual([expect.stringMatching(/^stem\/gelu_\d+\/Erf_\d+$/)]);
    // No node outputs a name twice.
    const outs = g.node.flatMap((n) => n.output);
    expect(new Set(outs).size).toBe(outs.length);
  });

  it('makes unbound params graph inputs with their static shapes', () => {
    const { inputs } = lowerGraph(graph);
    expect(inputs.map((i) => i.name)).toEqual(['image', ...graph.params.keys()]);
    expect(inputs.find((i) => i.name === 'stem.weight')).toMatchObject({ shape: [8, 3, 3, 3], batchAxis: null });
  });

  it('declares N on the batch dims of inputs and outputs with dynamicBatch, and nowhere else', () => {
    const model = onnx.ModelProto.decode(toOnnxModel(graph, { dynamicBatch: true }));
    const g = graphOf(model);
    const io = Object.fromEntries([...g.input, ...g.output].map((v) => [v.name, dims(v)]));
    expect(io['image']).toEqual([BATCH_DIM, 3, 9, 8]);
    expect(io['stem.weight']).toEqual([8, 3, 3, 3]);
    expect(io['logits']).toEqual([BATCH_DIM, 4]);
    expect(io['features']).toEqual([BATCH_DIM, 8, 9, 8]);
    expect(io['similarity']).toEqual([BATCH_DIM, 20]);
    expect(io['score']).toEqual([]);
  });

  it('rejects dynamicBatch when inputs disagree on dim 0', () => {
    const b = createGraph();
    b.output('y', b.add(b.sumAll(b.input('a', [2, 3])), b.sumAll(b.input('b', [3, 3]))));
    expect(() => toOnnxModel(b.build(), { dynamicBatch: true })).toThrow(/inputs disagree on dim 0 \("a" has 2, "b" has 3\)/);
  });

  it('rejects an output named like an input it is not', () => {
    const b = createGraph();
    const x = b.input('x', [3]);
    b.output('x', b.neg(x));
    expect(() => toOnnxModel(b.build())).toThrow(/output "x" has the name of an input or param/);
  });

  it('names graph outputs exactly, also when an output is an input, a param or another output', () => {
    const b = createGraph();
    const x = b.input('x', [3]);
    const p = b.param('p', [3], { kind: 'ones' });
    const y = b.add(x, p);
    b.output('y', y);
    b.output('y_again', y);
    b.output('x_out', x);
    b.output('p_out', p);
    const g = graphOf(onnx.ModelProto.decode(toOnnxModel(b.build())));
    expect(g.output.map((o) => o.name)).toEqual(['y', 'y_again', 'x_out', 'p_out']);
    // the repeated output and the input/param outputs are Identity copies of what they name
    const identities = g.node.filter((n) => n.opType === 'Identity');
    expect(identities.map((n) => [n.input![0], n.output![0]]).sort()).toEqual([
      ['p', 'p_out'],
      ['x', 'x_out'],
      [expect.any(String), 'y_again'],
    ]);
  });
});

describe('writeOnnxFile', () => {
  it('writes the encoded model atomically (no temporary file left)', async () => {
    const path = join(dir, 'net.onnx');
    await writeOnnxFile(path, graph, { params, dynamicBatch: true, metadata: { seed: '7' } });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const bytes = await readFile(path);
    expect(onnx.ModelProto.decode(bytes).metadataProps[0]).toMatchObject({ key: 'seed', value: '7' });
    expect(bytes.equals(toOnnxModel(graph, { params, dynamicBatch: true, metadata: { seed: '7' } }))).toBe(true);
  });
});
