/**
 * The default MobileNetV2 weights come from the optional peer @unias/mobilenet-v2-weights: found
 * when installed (here: our devDependency), one clear line when it cannot be loaded.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MOBILENET_V2_WEIGHTS_SOURCE, locateMobileNetV2Weights } from '@unias/mobilenet-v2-weights';
import { describe, expect, it } from 'vitest';
import { MOBILENET_V2 } from './mobilenet-v2.js';
import {
  MOBILENET_V2_NSFWJS_WEIGHTS,
  NSFWJS_SOURCE,
  bundledMobileNetV2Dir,
  loadMobileNetV2ImageNet,
  mobileNetV2DefaultWeights,
  readNsfwjsFiles,
  type MobileNetV2WeightsPackageLoader,
} from './pretrained/nsfwjs-mobilenet-v2.js';
import { loadBackboneWeights } from './weights/load.js';

/** What node says when a package is not installed. */
const notInstalled: MobileNetV2WeightsPackageLoader = () =>
  Promise.reject(
    Object.assign(new Error("Cannot find package '@unias/mobilenet-v2-weights' imported from /app/node_modules/@unias/backbones/dist/index.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    }),
  );

const clearError =
  /^the default MobileNetV2 weights are in the npm package @unias\/mobilenet-v2-weights, which could not be loaded \(Cannot find package '@unias\/mobilenet-v2-weights' imported from [^)]*\): install it \(npm install @unias\/mobilenet-v2-weights\) or pass a weights file$/;

describe('the weights package, installed', () => {
  it('the bundles are read from the folder it names', async () => {
    const dir = await bundledMobileNetV2Dir();
    expect(dir).toBe(locateMobileNetV2Weights().dir);
    const files = await readNsfwjsFiles();
    expect(files.dir).toBe(dir);
    expect(files.model).toEqual(new Uint8Array(await readFile(join(dir, 'model.min.js'))));
  });

  it('the provenance recorded with the weights is the one the package states', () => {
    expect(NSFWJS_SOURCE).toBe(MOBILENET_V2_WEIGHTS_SOURCE);
    expect(MOBILENET_V2_NSFWJS_WEIGHTS.source).toBe(MOBILENET_V2_WEIGHTS_SOURCE);
    expect(MOBILENET_V2.defaultWeights).toBe(MOBILENET_V2_NSFWJS_WEIGHTS);
  });

  it('@unias/backbones depends on neither nsfwjs nor tfjs; the weights package is an optional peer', async () => {
    const manifest = JSON.parse(await readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(manifest['dependencies']!).filter((d) => /nsfwjs|tensorflow|onnxruntime/.test(d))).toEqual([]);
    expect(manifest['peerDependencies']).toHaveProperty('@unias/mobilenet-v2-weights');
    expect(manifest['peerDependenciesMeta']).toEqual({ '@unias/mobilenet-v2-weights': { optional: true } });
  });
});

describe('the weights package, absent', () => {
  it('bundledMobileNetV2Dir: one line saying to install it or to pass a weights file', async () => {
    await expect(bundledMobileNetV2Dir(notInstalled)).rejects.toThrow(clearError);
  });

  it('loading the default weights gives that line (before any cache is read or written)', async () => {
    const progress: string[] = [];
    await expect(loadMobileNetV2ImageNet({ cacheDir: '/nonexistent/cache', onProgress: (m) => progress.push(m) }, notInstalled)).rejects.toThrow(clearError);
    expect(progress).toEqual([]);
  });

  it('so does loadBackboneWeights of a mobilenet_v2 whose weights package is missing', async () => {
    const backbone = { ...MOBILENET_V2, defaultWeights: mobileNetV2DefaultWeights(notInstalled) };
    await expect(loadBackboneWeights(backbone)).rejects.toThrow(clearError);
  });

  it('a real import of a package that is not installed fails the same way', async () => {
    const specifier = '@unias/mobilenet-v2-weights-not-installed';
    const err = await bundledMobileNetV2Dir(() => import(specifier) as never).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^the default MobileNetV2 weights are in the npm package @unias\/mobilenet-v2-weights, which could not be loaded \(.*mobilenet-v2-weights-not-installed.*\): install it/,
    );
    expect((err as Error).message).not.toContain('\n');
  });

  it('a package without mobileNetV2WeightsDir (another major version) is named as such', async () => {
    await expect(bundledMobileNetV2Dir(() => Promise.resolve({} as never))).rejects.toThrow(/has no mobileNetV2WeightsDir\(\): install a version that matches/);
  });
});
