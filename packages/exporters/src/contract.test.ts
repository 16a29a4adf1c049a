/**
 * The exported-model contract against its independent truth, the key table of
 * docs/exported-model.md: a key renamed in the code (or in the docs) fails here. Also: the field
 * parsers name the key at fault, and `@unias/exporters/contract` loads without the exporters.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PREPROCESSING_METADATA_KEYS } from '@unias/image/contract';
import { describe, expect, it } from 'vitest';
import {
  EXPORT_FORMAT_VERSION,
  METADATA_KEYS,
  UNIAS_METADATA_KEYS,
  UNIAS_MODEL_FORMAT,
  isUniasModelMetadata,
  metadataInputSize,
  metadataNumber,
  metadataPrecision,
  metadataThresholds,
  parseExportMetadata,
  parseUniasModelMetadata,
} from './contract.js';

const DOC = fileURLToPath(new URL('../../../docs/exported-model.md', import.meta.url));

describe('exported-model contract', () => {
  it('the metadata keys are exactly the ones docs/exported-model.md lists (besides the image contract’s)', async () => {
    const doc = await readFile(DOC, 'utf8');
    const documented = [...doc.matchAll(/^\| `(unias\.[a-z_.]+)` \|/gm)].map((m) => m[1]!);
    const preprocessing = new Set<string>(Object.values(PREPROCESSING_METADATA_KEYS));
    expect(documented.filter((k) => !preprocessing.has(k)).sort()).toEqual(Object.values(METADATA_KEYS).sort());
    expect(doc).toMatch(new RegExp(`\\| \`unias\\.format\` \\| \`${EXPORT_FORMAT_VERSION}\``));
  });

  it('the unias safetensors layout keeps its on-disk names', () => {
    // literal names stored files carry: changing one breaks every saved model
    expect(UNIAS_MODEL_FORMAT).toBe('unias-model/1');
    expect(UNIAS_METADATA_KEYS).toEqual({
      format: 'format',
      config: 'config',
      preset: 'preset',
      backbone: 'backbone',
      inputSize: 'input_size',
      thresholds: 'thresholds',
      classes: 'classes',
    });
    expect(isUniasModelMetadata({ format: 'unias-model/1' })).toBe(true);
    expect(isUniasModelMetadata({ format: 'pt' })).toBe(false);
    expect(() => parseUniasModelMetadata({ format: UNIAS_MODEL_FORMAT }, 'm.safetensors')).toThrow(
      /m\.safetensors: a unias-model\/1 file needs __metadata__ "config"/,
    );
    expect(parseUniasModelMetadata({ format: UNIAS_MODEL_FORMAT, config: '{"preset":"small"}', classes: '["a"]', thresholds: '{"image":0.5}' })).toEqual({
      config: { preset: 'small' },
      classes: ['a'],
      thresholds: { image: 0.5 },
    });
  });

  it('field parsers: absent is undefined, malformed is an error naming the key and the source', () => {
    expect(metadataInputSize({})).toBeUndefined();
    expect(metadataInputSize({ 'unias.input_size': ' 64 , 32 ' })).toEqual([64, 32]);
    expect(() => metadataInputSize({ 'unias.input_size': '8x8' }, 'm.onnx')).toThrow(/^m\.onnx: metadata unias\.input_size = "8x8" is not "H,W"$/);
    expect(() => metadataInputSize({ 'unias.input_size': '0,8' })).toThrow(/^metadata unias\.input_size = "0,8" is not two positive integers$/);
    expect(metadataNumber({ 'unias.threshold.image': '' }, METADATA_KEYS.thresholdImage)).toBeUndefined();
    expect(() => metadataNumber({ 'unias.threshold.pixel': 'high' }, METADATA_KEYS.thresholdPixel)).toThrow(
      /unias\.threshold\.pixel = "high" is not a finite number/,
    );
    expect(metadataThresholds({ 'unias.threshold.image': '0.25', 'unias.threshold.source': 'fixed' })).toEqual({ image: 0.25, source: 'fixed' });
    expect(metadataPrecision({})).toBe('float32');
    expect(metadataPrecision({ 'unias.precision': 'int8' })).toBe('int8');
    expect(() => metadataPrecision({ 'unias.precision': 'int4' })).toThrow(/unias\.precision = "int4" is not one of float32, int8, fp16/);
  });

  it('parseExportMetadata gives method and input range when written', () => {
    const base = { 'unias.format': '1', 'unias.input_size': '8,8', 'unias.preset': 'small', 'unias.backbone': 'b' };
    const m = parseExportMetadata({ ...base, 'unias.method': 'knn', 'unias.input_range': 'unit' });
    expect([m.method, m.inputRange, m.precision]).toEqual(['knn', 'unit', 'float32']);
    expect(parseExportMetadata(base).method).toBeUndefined();
  });

  it('@unias/exporters/contract loads without the exporters (no onnx-proto, model graphs or backends)', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, Record<string, string>> };
    expect(pkg.exports['./contract']?.['@unias/source']).toBe('./src/contract.ts');
    // every module it loads at run time, followed through this package's own files
    const packages = new Set<string>();
    const seen = new Set<string>();
    const visit = async (url: URL): Promise<void> => {
      if (seen.has(url.href)) return;
      seen.add(url.href);
      const text = await readFile(new URL(url.href.replace(/\.js$/, '.ts')), 'utf8');
      for (const [, spec] of text.matchAll(/^(?:import|export) (?!type )[^;]*? from '([^']+)';/gm)) {
        if (spec!.startsWith('.')) await visit(new URL(spec!, url));
        else packages.add(spec!);
      }
    };
    await visit(new URL('./contract.js', import.meta.url));
    expect([...packages]).toEqual(['@unias/image/contract']);
  });
});
