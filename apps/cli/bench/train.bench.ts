/**
 * `pnpm --filter @unias/cli bench`: what the demo's numbers rest on, measured side by side on this
 * machine (JSON to stdout and bench-results/cli-train.json):
 * 1. training throughput with the frozen-backbone feature cache cold (backbone + write), warm
 *    (read) and off (the backbone inside the training step), for the demo model (cpu preset,
 *    MobileNetV2, 128x128) and the small preset (EfficientNet-B4, 224x224);
 * 2. a non-learned baseline on the demo data: each test patch's distance to the nearest normal
 *    training patch of its class, on the same frozen MobileNetV2 features (res2 + res3 at 32x32),
 *    upsampled to the image; metrics as `unias eval` computes them.
 */
import { loadavg, cpus } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createOnnxBackend } from '@unias/backend-onnx';
import { createSampleReader, generateSyntheticDataset, loadMvtec, type Sample } from '@unias/datasets';
import { createGraph, writeFileAtomic, type TensorData } from '@unias/graph';
import { createMetricsAccumulator, type MetricValues } from '@unias/metrics';
import { buildFeatureGraph, resolveConfig } from '@unias/model';
import { resolveTrainSettings, type RawConfig, runTraining, loadModelWeights } from '@unias/engine';
import { resizeMap } from '@unias/image';
import { DEMO } from '../src/commands/demo.js';

const repo = resolve(import.meta.dirname, '../../..');
const work = join(repo, 'runs', 'bench-cli');
const data = join(repo, 'runs', 'demo', 'data');
const log = (m: string) => process.stderr.write(`${m}\n`);
const round = (v: number, d = 3) => Number(v.toPrecision(d));

interface ModelCase {
  readonly name: string;
  readonly raw: RawConfig;
}

/**
 * Images/s of the training loop with the feature cache cold (every image a miss: backbone + write),
 * warm (the same images again: all hits) and off, alternating warm and off twice so that load from
 * other jobs hits both alike.
 */
async function throughput(c: ModelCase, steps: number): Promise<Record<string, unknown>> {
  const cacheDir = join(work, `cache-${c.name}`);
  await rm(cacheDir, { recursive: true, force: true });
  const rates: Record<string, number[]> = { 'cache-cold': [], 'cache-warm': [], 'no-cache': [] };
  const loads: number[] = [];
  for (const mode of ['cache-cold', 'cache-warm', 'no-cache', 'cache-warm', 'no-cache'] as const) {
    const dir = join(work, `run-${c.name}-${mode}`);
    await rm(dir, { recursive: true, force: true });
    const raw = {
      ...c.raw,
      train: { ...(c.raw['train'] as object), epochs: null, steps, cacheDir, featureCache: mode !== 'no-cache' },
      output: { dir, logEvery: 1000, evalEvery: 0, checkpointEvery: 1000 },
    } as RawConfig;
    loads.push(loadavg()[0]!);
    const r = await runTraining({ settings: resolveTrainSettings(raw), skipFinalEval: true });
    rates[mode]!.push(r.imagesPerSecond);
    log(`${c.name} ${mode}: ${r.imagesPerSecond.toFixed(2)} images/s`);
  }
  const best = (xs: number[]) => Math.max(...xs);
  return {
    steps,
    images_per_s: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, v.map((x) => round(x))])),
    warm_over_no_cache: round(best(rates['cache-warm']!) / best(rates['no-cache']!)),
    load_avg_1min: loads.map((l) => round(l, 2)),
  };
}

/** Nearest-normal-patch distances on ORT: scores [Q] = min over the bank of ||q - m||. */
async function nearestPatch(): Promise<Record<string, unknown>> {
  const backend = await createOnnxBackend();
  const config = resolveConfig({
    ...(DEMO.full.config['model'] as object),
    backbone: 'mobilenet_v2',
    convDim: 32,
    hidden: 32,
    maskDim: 16,
    dimFeedforward: 64,
  } as never);
  const weights = await loadModelWeights(config, { files: [] });
  const features = await backend.prepare(buildFeatureGraph(config), { params: weights.backbone });
  const [H, W] = config.inputSize;
  const reader = createSampleReader({ size: { width: W, height: H }, normalize: 'none' });
  const G = H / 4; // res2's grid
  const embed = async (s: Sample): Promise<{ patches: Float32Array; mask: Uint8Array }> => {
    const d = await reader.read(s);
    const f = await features.run({ image: { dtype: 'float32', shape: [1, 3, H, W], data: d.image } });
    const r2 = f['target.res2']!.data as Float32Array; // [1, 24, G, G]
    const r3 = f['target.res3']!.data as Float32Array; // [1, 32, G/2, G/2]
    const c2 = 24;
    const c3 = 32;
    const C = c2 + c3;
    const patches = new Float32Array(G * G * C);
    for (let y = 0; y < G; y++) {
      for (let x = 0; x < G; x++) {
        const p = (y * G + x) * C;
        for (let c = 0; c < c2; c++) patches[p + c] = r2[c * G * G + y * G + x]!;
        const y3 = Math.floor(y / 2);
        const x3 = Math.floor(x / 2);
        for (let c = 0; c < c3; c++) patches[p + c2 + c] = r3[c * (G / 2) * (G / 2) + y3 * (G / 2) + x3]!;
      }
    }
    return { patches, mask: d.mask };
  };
  const ds = await loadMvtec({ root: data });
  const acc = createMetricsAccumulator({});
  const C = 56;
  const Q = G * G;
  for (const cls of ds.classes) {
    const train = ds.samples.filter((s) => s.className === cls && s.split === 'train');
    const bankParts = await Promise.all(train.map(async (s) => (await embed(s)).patches));
    const M = bankParts.length * Q;
    const bankT = new Float32Array(C * M); // [C, M]
    bankParts.forEach((p, i) => {
      for (let q = 0; q < Q; q++) for (let c = 0; c < C; c++) bankT[c * M + i * Q + q] = p[q * C + c]!;
    });
    const norms = new Float32Array(M);
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += bankT[c * M + m]! ** 2;
      norms[m] = s;
    }
    const b = createGraph();
    const q = b.input('q', [Q, C]);
    const dot = b.matmul(q, b.constant(bankT, [C, M]));
    const d2 = b.add(b.sub(b.constant(norms, [1, M]), b.mul(dot, 2)), b.sum(b.mul(q, q), [1], true));
    b.output('score', b.sqrt(b.maximum(b.neg(b.max(b.neg(d2), [1], false)), 0)));
    const session = await backend.prepare(b.build());
    for (const s of ds.samples.filter((t) => t.className === cls && t.split === 'test')) {
      const e = await embed(s);
      const out = await session.run({ q: { dtype: 'float32', shape: [Q, C], data: e.patches } });
      const map = resizeMap(Float32Array.from(out['score']!.data as Float32Array), { width: G, height: G }, { width: W, height: H });
      acc.add(cls, { scores: map, mask: e.mask, height: H, width: W }, s.path);
    }
    await session.dispose();
    log(`nearest patch: ${cls} (${M} bank patches)`);
  }
  await features.dispose();
  const r = acc.compute();
  const pick = (m: MetricValues) => ({ pixel_auroc: m.pixel_auroc, pixel_ap: m.pixel_ap, aupro: m.aupro, image_auroc: m.image_auroc });
  return {
    detector: `distance to the nearest normal training patch of the class; MobileNetV2 res2 (24 ch) + res3 (32 ch, nearest-upsampled) at ${G}x${G} for ${H}x${W} images, bilinear to the image, no smoothing`,
    mean: pick(r.mean),
    classes: Object.fromEntries(Object.entries(r.classes).map(([k, v]) => [k, pick(v)])),
  };
}

await mkdir(work, { recursive: true });
await generateSyntheticDataset({ root: data, size: 128, seed: 0, ifExists: 'reuse' });
const steps = Number(process.env['UNIAS_CLI_BENCH_STEPS'] ?? 31);
const result = {
  bench: 'cli-train',
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  load_avg_1min_at_start: round(loadavg()[0]!, 2),
  feature_cache: {
    note: 'images/s of the whole loop (data, features, step); best of the two warm and the two no-cache runs for the ratio',
    'demo (cpu preset, mobilenet_v2, 128x128, batch 8)': await throughput({ name: 'demo', raw: { ...DEMO.full.config, data: { roots: [data] } } }, steps),
    'small preset (efficientnet-b4, random frozen weights, 224x224, batch 4)': await throughput(
      { name: 'small', raw: { preset: 'small', backboneWeights: 'random', data: { roots: [data] }, train: { batchSize: 4, lr: 1e-4 } } as RawConfig },
      Number(process.env['UNIAS_CLI_BENCH_SMALL_STEPS'] ?? 6),
    ),
  },
  nearest_patch_baseline: await nearestPatch(),
};
const json = `${JSON.stringify(result, null, 2)}\n`;
await writeFileAtomic(join(repo, 'bench-results', 'cli-train.json'), json);
process.stdout.write(json);
