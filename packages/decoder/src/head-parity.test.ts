/**
 * The head against the official code's golden outputs (small preset, eval mode): the fixture's
 * decoder inputs in, reconstructions per level out; float64 reference and ONNX Runtime.
 */
import { readFileSync } from 'node:fs';
import { createGraph, entryToTensor, readSafetensorsFile, countParams, type Graph, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { createOnnxBackend } from '@unias/backend-onnx';
import { FIXTURES } from '@unias/test-fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { unifiedHead, type HeadOptions } from './index.js';

const TAPS = ['res1', 'res2', 'res3', 'res4'];
type Shapes = Record<'paper' | 'small', { state_dict: Record<string, number[]>; trainable_params: Record<string, number> }>;
const SHAPES = JSON.parse(readFileSync(FIXTURES.stateDictShapes, 'utf8')) as Shapes;

function headOptions(convDim: number, maskDim: number, ffn: number): HeadOptions {
  return {
    pixelDecoder: { convDim, numHeads: 4, dimFeedforward: ffn },
    predictor: { hidden: convDim, maskDim, numHeads: 4, dimFeedforward: ffn, targetChannels: [160, 56, 32, 24] },
  };
}

function buildHead(o: HeadOptions, tapChannels = [24, 32, 56, 160], size = 224): Graph {
  const b = createGraph();
  const inputs = TAPS.map((t, i) => b.input(`decoder_input.${t}`, [1, 2 * tapChannels[i]!, size >> (i + 1), size >> (i + 1)]));
  const { recon } = b.within('sem_seg_head', () => unifiedHead(b, inputs, o));
  recon.forEach((r, i) => b.output(`recon.${i}`, r));
  return b.build();
}

function headEntries(preset: 'paper' | 'small'): Array<[string, number[]]> {
  return Object.entries(SHAPES[preset].state_dict).filter(([k]) => k.startsWith('sem_seg_head.'));
}

describe('head parameters', () => {
  it('small preset: every official key and shape, nothing else', () => {
    const g = buildHead(headOptions(64, 32, 128));
    expect(new Map([...g.params.values()].map((p) => [p.name, [...p.shape]]))).toEqual(new Map(headEntries('small')));
    expect(countParams(g)).toBe(SHAPES.small.trainable_params['sem_seg_head']);
  });

  it('paper preset: every official key and shape, 53,847,523 trainable parameters', () => {
    const g = buildHead(headOptions(256, 256, 2048));
    expect(new Map([...g.params.values()].map((p) => [p.name, [...p.shape]]))).toEqual(new Map(headEntries('paper')));
    expect(countParams(g, (p) => p.trainable)).toBe(53_847_523);
  });
});

describe('head parity with the official code (small preset, eval)', () => {
  let graph: Graph;
  let params: Map<string, TensorData>;
  const feeds: Record<string, TensorData> = {};
  const expected: TensorData[] = [];

  beforeAll(async () => {
    graph = buildHead(headOptions(64, 32, 128));
    const head = await readSafetensorsFile(FIXTURES.head);
    const io = await readSafetensorsFile(FIXTURES.io);
    params = new Map([...graph.params.keys()].map((k) => [k, entryToTensor(head.tensors.get(k)!)]));
    for (const t of TAPS) feeds[`decoder_input.${t}`] = entryToTensor(io.tensors.get(`backbone.decoder_input.${t}`)!);
    for (let i = 0; i < 4; i++) expected.push(entryToTensor(io.tensors.get(`output.recon.${i}`)!));
  });

  it('float64 reference: reconstructions of every level within 1e-6 relative', () => {
    const out = evaluateReference(graph, feeds, { params });
    const errors = expected.map((e, i) => maxRelError(out[`recon.${i}`]!.data, e.data));
    console.log(`head vs official, float64 reference: recon ${errors.map((e) => e.toExponential(2)).join(' ')}`);
    for (const [i, e] of errors.entries()) expect(e, `level ${i}`).toBeLessThan(1e-6);
  });

  it('ONNX Runtime: reconstructions of every level within 1e-5 relative', async () => {
    const session = await (await createOnnxBackend()).prepare(graph, { params });
    try {
      const out = await session.run(feeds);
      const errors = expected.map((e, i) => maxRelError(out[`recon.${i}`]!.data, e.data));
      console.log(`head vs official, onnxruntime: recon ${errors.map((e) => e.toExponential(2)).join(' ')}`);
      for (const [i, e] of errors.entries()) {
        expect(out[`recon.${i}`]!.shape).toEqual(expected[i]!.shape);
        expect(e, `level ${i}`).toBeLessThan(1e-5);
      }
    } finally {
      await session.dispose();
    }
  });
});
