/**
 * Seeded, bounded fuzzing of the ONNX weight reader (`importOnnx`, what `--backbone-weights
 * FILE.onnx` runs): byte mutations of a valid model with initializers of every float kind. Every
 * case must import or be refused with an error naming the model, quickly, and a corrupt dimension
 * must never allocate more than the file holds.
 */
import { floatToBf16, floatToHalf } from '@unias/graph';
import { fuzz, mutateBytes } from '@unias/graph/testing';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { importOnnx } from './onnx.js';

const onnx = onnxProto.onnx;
const LABEL = 'ONNX bytes';

function sampleModel(): Uint8Array {
  const values = Array.from({ length: 24 }, (_, i) => Math.sin(i) * 3);
  const t = (name: string, dataType: number, dims: number[], fields: Record<string, unknown>) => onnx.TensorProto.create({ name, dataType, dims, ...fields });
  const graph = {
    name: 'g',
    node: [{ opType: 'Conv', input: ['x', 'conv.weight', 'conv.bias'], output: ['y'], name: 'conv' }],
    initializer: [
      t('conv.weight', 1, [2, 3, 2, 2], { rawData: new Uint8Array(new Float32Array(values).buffer) }),
      t('conv.bias', 1, [2], { floatData: [0.25, -0.5] }),
      t('bn.weight', 10, [4], { int32Data: values.slice(0, 4).map(floatToHalf) }),
      t('bn.bias', 16, [4], { rawData: new Uint8Array(new Uint16Array(values.slice(4, 8).map(floatToBf16)).buffer) }),
      t('fc.weight', 11, [3, 2], { doubleData: values.slice(0, 6) }),
      t('shape', 7, [2], { int64Data: [1, -1] }),
    ],
  };
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph, metadataProps: [{ key: 'unias.format', value: '1' }] }),
  ).finish();
}

describe('ONNX weight import fuzzing', () => {
  it('byte mutations end in weights or a clear error naming the model', async () => {
    const good = sampleModel();
    expect([...(await importOnnx(good)).keys()].sort()).toEqual(['bn.bias', 'bn.weight', 'conv.bias', 'conv.weight', 'fc.weight']);
    const heap0 = process.memoryUsage().heapUsed;
    const r = await fuzz({
      seed: 11,
      count: 1500,
      budgetMs: 8000,
      make: (rng) => {
        const m = mutateBytes(rng, good);
        return { input: m.bytes, how: m.how };
      },
      run: async (bytes) => {
        for (const t of (await importOnnx(bytes)).values()) expect(t.data.length).toBeLessThanOrEqual(bytes.length);
      },
      clearError: (e) => e instanceof Error && !(e instanceof RangeError && /allocation|Array buffer/i.test(e.message)) && e.message.startsWith(`${LABEL}: `),
      caseMs: 500,
    });
    expect(r.failures).toEqual([]);
    expect(r.refused).toBeGreaterThan(r.cases / 10);
    // nothing large was kept or leaked: the inputs are a few hundred bytes each
    expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(64 * 1024 * 1024);
    console.info(
      `ONNX import fuzz: ${r.cases} cases in ${r.ms.toFixed(0)} ms, ${r.accepted} accepted, ${r.refused} refused, slowest ${r.slowestMs.toFixed(1)} ms`,
    );
  });

  it('a dimension claiming gigabytes is refused before anything is allocated', async () => {
    const bytes = onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        graph: { name: 'g', initializer: [onnx.TensorProto.create({ name: 'w', dataType: 1, dims: [1 << 30, 4], floatData: [1, 2] })] },
      }),
    ).finish();
    const heap0 = process.memoryUsage().arrayBuffers;
    await expect(importOnnx(bytes)).rejects.toThrow(/ONNX bytes: initializer "w": 2 values for shape \[1073741824,4\]/);
    expect(process.memoryUsage().arrayBuffers - heap0).toBeLessThan(1024 * 1024);
  });
});
