/**
 * Throughput of the datasets package, measured side by side on this machine:
 * - synthetic generation (5 classes x 86 images at 128 px, and at 64 px): images/s;
 * - decoding into model tensors (sample reader), one at a time vs through the batch loader with
 *   parallel decodes: images/s and the ratio; on ../shared (if present) also 1024 px grey PNG and
 *   512 px JPEG to 224;
 * - prefetch: an epoch with a simulated training step (a timer, so it does not compete for the CPU)
 *   with prefetch 0 vs 2: wall-time ratio;
 * - feature cache: MB/s to write and read ~1 MB of features per image;
 * - a difficulty probe for the synthetic set: a non-learned patch nearest-neighbour detector
 *   (3x3 colour patches at 32 px against 2000 training patches), image and pixel AUROC per class.
 *
 * JSON to stdout and to <repo>/bench-results/datasets.json.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng, writeFileAtomic, type TensorData } from '@unias/graph';
import { createBatchLoader, createFeatureCache, createSampleReader, generateSyntheticDataset, loadMvtec, type Sample } from '../src/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const shared = resolve(repoRoot, '../shared/datasets');
const now = (): number => performance.now();

async function timeIt<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = now();
  const value = await fn();
  return { ms: now() - t, value };
}

async function decodeSequential(samples: readonly Sample[], size: number): Promise<number> {
  const reader = createSampleReader({ size });
  const t = now();
  for (const s of samples) await reader.read(s);
  return now() - t;
}

async function decodeLoader(samples: readonly Sample[], size: number, concurrency: number): Promise<number> {
  const loader = createBatchLoader({ samples, reader: createSampleReader({ size }), batchSize: 8, shuffle: false, prefetch: 2, concurrency });
  const t = now();
  for await (const b of loader.epoch()) void b;
  const ms = now() - t;
  await loader.close();
  return ms;
}

async function decodeBench(name: string, samples: readonly Sample[], size: number): Promise<Record<string, number | string>> {
  await decodeSequential(samples.slice(0, 4), size); // warm up
  const seq = await decodeSequential(samples, size);
  const par = await decodeLoader(samples, size, 4);
  return {
    set: name,
    images: samples.length,
    outputSize: size,
    sequentialImagesPerSecond: round((samples.length / seq) * 1000),
    loaderImagesPerSecond: round((samples.length / par) * 1000),
    loaderOverSequential: round(seq / par),
  };
}

async function prefetchBench(samples: readonly Sample[], size: number, stepMs: number): Promise<Record<string, number>> {
  const run = async (prefetch: number): Promise<number> => {
    const loader = createBatchLoader({ samples, reader: createSampleReader({ size }), batchSize: 8, shuffle: false, prefetch });
    const t = now();
    for await (const b of loader.epoch()) {
      void b;
      await new Promise((r) => setTimeout(r, stepMs));
    }
    const ms = now() - t;
    await loader.close();
    return ms;
  };
  await run(0);
  const without = await run(0);
  const withPrefetch = await run(2);
  return { simulatedStepMs: stepMs, epochMsPrefetch0: round(without), epochMsPrefetch2: round(withPrefetch), speedup: round(without / withPrefetch) };
}

async function cacheBench(dir: string, samples: readonly Sample[]): Promise<Record<string, number>> {
  const cache = createFeatureCache({ dir: join(dir, 'cache'), key: { backbone: 'bench', weightsHash: 'x', inputSize: 224 } });
  // Roughly what a 4-tap backbone gives at 224 px: 256x56x56 + 512x28x28 + 1024x14x14 + 2048x7x7 floats would be 5.8 MB; use a quarter.
  const shapes = [
    [64, 56, 56],
    [128, 28, 28],
    [256, 14, 14],
    [512, 7, 7],
  ] as const;
  const rng = createRng(1);
  const feats: Record<string, TensorData<'float32'>> = {};
  shapes.forEach((s, i) => {
    feats[`tap${i}`] = { dtype: 'float32', shape: s, data: rng.fillUniform(new Float32Array(s[0] * s[1] * s[2])) };
  });
  const bytes = Object.values(feats).reduce((n, t) => n + t.data.byteLength, 0);
  const n = Math.min(40, samples.length);
  const w = await timeIt(async () => {
    for (let i = 0; i < n; i++) await cache.put({ path: samples[i]!.path }, feats);
  });
  const r = await timeIt(async () => {
    for (let i = 0; i < n; i++) if (!(await cache.get({ path: samples[i]!.path }))) throw new Error('cache miss in bench');
  });
  const report = await cache.report();
  return {
    entries: report.entries,
    bytesPerEntry: round(report.bytes / report.entries),
    writeMBps: round((n * bytes) / 1e6 / (w.ms / 1000)),
    readMBps: round((n * bytes) / 1e6 / (r.ms / 1000)),
  };
}

/** Area-averages an interleaved RGB image down by `f`. */
function shrink(data: Float32Array, size: number, f: number): Float32Array {
  const s = size / f;
  const out = new Float32Array(s * s * 3);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      for (let c = 0; c < 3; c++) out[(((y / f) | 0) * s + ((x / f) | 0)) * 3 + c] += data[c * size * size + y * size + x]! / (f * f);
  return out;
}

function patches(img: Float32Array, s: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let y = 1; y < s - 1; y++) {
    for (let x = 1; x < s - 1; x++) {
      const p = new Float32Array(27);
      let k = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) for (let c = 0; c < 3; c++) p[k++] = img[((y + dy) * s + x + dx) * 3 + c]!;
      out.push(p);
    }
  }
  return out;
}

function auroc(scores: readonly number[], labels: readonly number[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSum = 0;
  let pos = 0;
  // Average ranks over ties.
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (labels[idx[k]!] === 1) {
        rankSum += rank;
        pos++;
      }
    i = j + 1;
  }
  const neg = labels.length - pos;
  return pos === 0 || neg === 0 ? NaN : (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

async function probe(
  ds: { samples: readonly Sample[]; classes: readonly string[] },
  size: number,
): Promise<Record<string, { imageAUROC: number; pixelAUROC: number }>> {
  const reader = createSampleReader({ size, normalize: 'none' });
  const f = size / 32;
  const s = 32;
  const out: Record<string, { imageAUROC: number; pixelAUROC: number }> = {};
  for (const cls of ds.classes) {
    const own = ds.samples.filter((x) => x.className === cls);
    const bank: Float32Array[] = [];
    for (const t of own.filter((x) => x.split === 'train')) bank.push(...patches(shrink((await reader.read(t)).image, size, f), s));
    const rng = createRng(7);
    rng.shuffle(bank);
    const memory = bank.slice(0, 2000);
    const imgScores: number[] = [];
    const imgLabels: number[] = [];
    const pxScores: number[] = [];
    const pxLabels: number[] = [];
    for (const t of own.filter((x) => x.split === 'test')) {
      const d = await reader.read(t);
      const ps = patches(shrink(d.image, size, f), s);
      let max = 0;
      ps.forEach((p, i) => {
        let best = Infinity;
        for (const m of memory) {
          let acc = 0;
          for (let k = 0; k < 27; k++) acc += (p[k]! - m[k]!) ** 2;
          if (acc < best) best = acc;
        }
        max = Math.max(max, best);
        const py = (((i / (s - 2)) | 0) + 1) * f + (f >> 1);
        const px = ((i % (s - 2)) + 1) * f + (f >> 1);
        pxScores.push(best);
        pxLabels.push(d.mask[py * size + px]!);
      });
      imgScores.push(max);
      imgLabels.push(t.label);
    }
    out[cls] = { imageAUROC: round(auroc(imgScores, imgLabels)), pixelAUROC: round(auroc(pxScores, pxLabels)) };
  }
  return out;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

const tmp = await mkdtemp(join(tmpdir(), 'unias-datasets-bench-'));
try {
  const gen128 = await timeIt(() => generateSyntheticDataset({ root: join(tmp, 'synth128'), size: 128, seed: 1 }));
  const gen64 = await timeIt(() => generateSyntheticDataset({ root: join(tmp, 'synth64'), size: 64, seed: 1 }));
  const ds = await loadMvtec({ root: join(tmp, 'synth128') });
  const decoding = [await decodeBench('synthetic 128px PNG', ds.samples, 128), await decodeBench('synthetic 128px PNG', ds.samples.slice(0, 120), 224)];
  for (const [name, root] of [
    ['mvtec-grid-mini 1024px grey PNG', join(shared, 'mvtec-grid-mini')],
    ['hazelnut-toy 512px JPEG', join(shared, 'hazelnut-toy')],
  ] as const) {
    if (existsSync(root)) decoding.push(await decodeBench(name, (await loadMvtec({ root })).samples, 224));
  }
  const result = {
    bench: 'datasets',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    generation: [
      { size: 128, images: gen128.value.images, seconds: round(gen128.ms / 1000), imagesPerSecond: round(gen128.value.images / (gen128.ms / 1000)) },
      { size: 64, images: gen64.value.images, seconds: round(gen64.ms / 1000), imagesPerSecond: round(gen64.value.images / (gen64.ms / 1000)) },
    ],
    decoding,
    prefetch: await prefetchBench(ds.samples.slice(0, 96), 224, 40),
    featureCache: await cacheBench(tmp, ds.samples),
    syntheticDifficultyProbe: { detector: '3x3 RGB patches at 32 px, nearest of 2000 training patches', perClass: await probe(ds, 128) },
  };
  const text = `${JSON.stringify(result, null, 2)}\n`;
  process.stdout.write(text);
  await writeFileAtomic(join(repoRoot, 'bench-results', 'datasets.json'), text);
} finally {
  await rm(tmp, { recursive: true, force: true });
}
