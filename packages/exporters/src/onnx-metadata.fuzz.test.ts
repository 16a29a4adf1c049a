/**
 * Seeded, bounded fuzzing of how an exported ONNX file's contract is read (`readExportMetadata`,
 * what `unias predict/eval --model FILE.onnx` runs before onnxruntime sees the file): byte
 * mutations end in typed metadata or an ExportError naming the file, quickly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzz, mutateBytes } from '@unias/graph/testing';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { ExportError } from './errors.js';
import { METADATA_KEYS, parseExportMetadata, readExportMetadata } from './onnx-metadata.js';

const onnx = onnxProto.onnx;
const dirPromise = mkdtemp(join(tmpdir(), 'unias-onnx-fuzz-'));
afterAll(async () => rm(await dirPromise, { recursive: true, force: true }));

function exported(): Uint8Array {
  const metadataProps = Object.entries({
    [METADATA_KEYS.format]: '1',
    [METADATA_KEYS.inputSize]: '224,224',
    [METADATA_KEYS.preset]: 'small',
    [METADATA_KEYS.backbone]: 'efficientnet-b4',
    [METADATA_KEYS.thresholdImage]: '0.5',
    [METADATA_KEYS.classes]: 'bottle,cable',
  }).map(([key, value]) => ({ key, value }));
  const graph = {
    name: 'g',
    input: [
      { name: 'image', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }, { dimValue: 224 }, { dimValue: 224 }] } } } },
    ],
    output: [{ name: 'score', type: { tensorType: { elemType: 1 } } }],
    node: [{ opType: 'ReduceMean', input: ['image'], output: ['score'], attribute: [{ name: 'keepdims', type: 2, i: 0 }] }],
    initializer: [onnx.TensorProto.create({ name: 'w', dataType: 1, dims: [4], floatData: [1, 2, 3, 4] })],
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph, metadataProps })).finish();
}

describe('exported ONNX metadata fuzzing', () => {
  it('byte mutations end in typed metadata or an ExportError naming the file', async () => {
    const good = exported();
    const path = join(await dirPromise, 'model.onnx');
    await writeFile(path, good);
    expect((await readExportMetadata(path)).classes).toEqual(['bottle', 'cable']);
    const r = await fuzz({
      seed: 17,
      count: 800,
      budgetMs: 4000,
      make: (rng) => {
        const m = mutateBytes(rng, good);
        return { input: m.bytes, how: m.how };
      },
      // through a file, as the CLI reads it
      run: async (bytes) => {
        await writeFile(path, bytes);
        const meta = await readExportMetadata(path);
        expect(meta.inputSize.every((d) => Number.isSafeInteger(d))).toBe(true);
      },
      clearError: (e) => e instanceof ExportError && e.message.startsWith(`${path}: `),
      caseMs: 500,
    });
    expect(r.failures).toEqual([]);
    expect(r.cases).toBeGreaterThan(100);
    expect(r.refused).toBeGreaterThan(r.cases / 10);
    console.info(
      `ONNX metadata fuzz: ${r.cases} cases in ${r.ms.toFixed(0)} ms, ${r.accepted} accepted, ${r.refused} refused, slowest ${r.slowestMs.toFixed(1)} ms`,
    );
  });

  it('an input size that is not two positive safe integers is refused by name', () => {
    const base = { [METADATA_KEYS.format]: '1', [METADATA_KEYS.preset]: 'small', [METADATA_KEYS.backbone]: 'efficientnet-b4' };
    for (const size of ['0,224', '224,99999999999999999999']) {
      expect(() => parseExportMetadata({ ...base, [METADATA_KEYS.inputSize]: size }, 'm.onnx')).toThrow(
        `m.onnx: metadata unias.input_size = "${size}" is not two positive integers`,
      );
    }
    expect(parseExportMetadata({ ...base, [METADATA_KEYS.inputSize]: '256, 192' }).inputSize).toEqual([256, 192]);
  });
});
