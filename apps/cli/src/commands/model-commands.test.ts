/**
 * eval, predict, export, metrics and serve on one tiny trained model. The independent truth: the
 * model exported to ONNX by `unias export` and run by onnxruntime directly in the test, its maps
 * scored by `unias metrics` (which only reads a file).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseHtml } from 'node-html-parser';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleReader, loadMvtec, type Sample } from '@unias/datasets';
import { readSafetensorsFile, writeSafetensorsFile } from '@unias/graph';
import { METRIC_KEYS } from '@unias/metrics';
import { runCli, startServe, tempDir, tinyConfigFile, tinyDataset } from '../testing/helpers.js';

const SIZE = 32;

interface MetricsJson {
  classes: Record<string, Record<string, number | null>>;
  mean: Record<string, number | null>;
  thresholds: Record<string, unknown>;
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;
let run: string;
let onnx: string;
let samples: Sample[];

/** Maps of the test images by the exported ONNX file on onnxruntime, one image at a time. */
async function onnxMaps(file: string, images: readonly Sample[]): Promise<{ maps: Float32Array[]; scores: number[] }> {
  const session = await ort.InferenceSession.create(file);
  const reader = createSampleReader({ size: SIZE, normalize: 'none' });
  const maps: Float32Array[] = [];
  const scores: number[] = [];
  try {
    for (const s of images) {
      const d = await reader.read(s);
      const out = await session.run({ image: new ort.Tensor('float32', d.image, [1, 3, SIZE, SIZE]) });
      maps.push(Float32Array.from(out['anomaly_map']!.data as Float32Array));
      scores.push((out['score']!.data as Float32Array)[0]!);
    }
  } finally {
    await session.release();
  }
  return { maps, scores };
}

beforeAll(async () => {
  tmp = await tempDir('model');
  data = await tinyDataset(join(tmp.dir, 'data'));
  run = join(tmp.dir, 'run');
  const config = await tinyConfigFile(tmp.dir, data);
  const t = await runCli(['train', '--config', config, '--steps', '4', '--out', run, '--quiet']);
  expect(t.code, t.stderr).toBe(0);
  onnx = join(tmp.dir, 'model.onnx');
  const e = await runCli(['export', '--model', run, '--format', 'onnx', '--out', onnx, '--quiet']);
  expect(e.code, e.stderr).toBe(0);
  samples = (await loadMvtec({ root: data })).samples.filter((s) => s.split === 'test');
});
afterAll(async () => tmp.cleanup());

describe('unias eval', () => {
  let metrics: MetricsJson;
  const out = () => join(tmp.dir, 'eval');

  beforeAll(async () => {
    const r = await runCli(['eval', '--model', run, '--out', out(), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^class\s+pAUROC\s+pAP/m);
    expect(r.stdout).toMatch(/^fabric\s/m);
    expect(r.stdout).toMatch(/^mean\s/m);
    metrics = JSON.parse(await readFile(join(out(), 'metrics.json'), 'utf8')) as MetricsJson;
  });

  it('metrics.json equals `unias metrics` on the maps of the exported ONNX model', async () => {
    const classes = ['fabric', 'washer'];
    const tensors: Record<string, { shape: number[]; data: ArrayLike<number>; dtype: 'F32' | 'U8' }> = {};
    const reader = createSampleReader({ size: SIZE, normalize: 'none' });
    for (const c of classes) {
      const mine = samples.filter((s) => s.className === c);
      const { maps } = await onnxMaps(onnx, mine);
      const masks = await Promise.all(mine.map(async (s) => (await reader.read(s)).mask));
      const pred = new Float32Array(mine.length * SIZE * SIZE);
      const mask = new Uint8Array(mine.length * SIZE * SIZE);
      mine.forEach((_, i) => {
        pred.set(maps[i]!, i * SIZE * SIZE);
        mask.set(masks[i]!, i * SIZE * SIZE);
      });
      tensors[`${c}.pred`] = { shape: [mine.length, SIZE, SIZE], data: pred, dtype: 'F32' };
      tensors[`${c}.mask`] = { shape: [mine.length, SIZE, SIZE], data: mask, dtype: 'U8' };
    }
    const file = join(tmp.dir, 'maps.safetensors');
    await writeSafetensorsFile(file, tensors);
    const r = await runCli(['metrics', '--input', file]);
    expect(r.code, r.stderr).toBe(0);
    const viaMetrics = JSON.parse(r.stdout) as MetricsJson;
    expect(Object.keys(viaMetrics).sort()).toEqual(Object.keys(metrics).sort());
    expect(Object.keys(metrics.classes).sort()).toEqual(classes);
    for (const c of classes) {
      expect(Object.keys(metrics.classes[c]!).sort()).toEqual([...METRIC_KEYS].sort());
      for (const k of METRIC_KEYS) {
        const a = metrics.classes[c]![k]!;
        const b = viaMetrics.classes[c]![k]!;
        if (a === null || b === null) expect(a).toBe(b);
        // graph on ORT in-process vs the exported file: float rounding only
        else expect(Math.abs(a - b), `${c} ${k}`).toBeLessThan(1e-3);
      }
    }
  });

  it('writes one self-contained HTML report: a table row per class, an SVG per curve, PNG images', async () => {
    const html = await readFile(join(out(), 'report.html'), 'utf8');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="(https?:)?\/\//);
    const root = parseHtml(html);
    const rows = root.querySelectorAll('table#metrics tbody tr[data-class]');
    expect(rows.map((r) => r.getAttribute('data-class'))).toEqual(['fabric', 'washer']);
    // the table shows the same numbers as metrics.json (percent, one decimal)
    for (const r of rows) {
      const c = r.getAttribute('data-class')!;
      const pap = metrics.classes[c]!['pixel_ap'];
      expect(r.querySelectorAll('td')[2]!.text).toBe(pap === null || pap === undefined ? 'n/a' : (100 * pap).toFixed(1));
    }
    expect(root.querySelectorAll('table#metrics tr.mean')).toHaveLength(1);
    for (const c of ['fabric', 'washer']) {
      const section = root.querySelector(`section#class-${c}`)!;
      const curves = section.querySelectorAll('svg[data-curve]').map((s) => s.getAttribute('data-curve'));
      expect(curves.sort()).toEqual(['image_pr', 'image_roc', 'pixel_pr', 'pixel_pro', 'pixel_roc']);
      for (const svg of section.querySelectorAll('svg[data-curve]'))
        expect(svg.querySelector('polyline')!.getAttribute('points')!.split(' ').length).toBeGreaterThan(1);
      const images = section.querySelectorAll('figure.ex img');
      expect(images.length).toBeGreaterThanOrEqual(3);
      for (const img of images) {
        const src = img.getAttribute('src')!;
        expect(src.startsWith('data:image/png;base64,')).toBe(true);
        const meta = await sharp(Buffer.from(src.slice('data:image/png;base64,'.length), 'base64')).metadata();
        expect(meta.format).toBe('png');
        expect([meta.width, meta.height]).toEqual([SIZE, SIZE]);
      }
    }
    expect(root.querySelector('ul.meta')!.text).toMatch(/masks drawn at: the model's pixel threshold/);
    expect(root.querySelectorAll('script')).toHaveLength(1);
  });

  it('--save-thresholds stores the F1 / DSC thresholds of the labelled set in the model file; --json prints metrics.json', async () => {
    const copy = join(tmp.dir, 'run-copy');
    await runCli(['export', '--model', run, '--format', 'safetensors', '--out', join(copy, 'model.safetensors'), '--quiet']);
    const r = await runCli([
      'eval',
      '--model',
      join(copy, 'model.safetensors'),
      '--data',
      data,
      '--out',
      join(tmp.dir, 'eval2'),
      '--save-thresholds',
      '--no-report',
      '--json',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(metrics);
    const t = JSON.parse((await readSafetensorsFile(join(copy, 'model.safetensors'))).metadata['thresholds']!) as {
      image: number;
      pixel: number;
      source: string;
    };
    expect(t.source).toMatch(/F1-max threshold of the image scores and DSC threshold/);
    // the image threshold is one of the image scores (the F1-max point)
    const { scores } = await onnxMaps(onnx, samples);
    expect(Math.min(...scores.map((s) => Math.abs(s - t.image)))).toBeLessThan(1e-4);
  });
});

describe('unias predict', () => {
  it('writes heat maps, overlays and masks at each image size, and a JSON/CSV summary', async () => {
    const folder = join(data, 'washer', 'test');
    const out = join(tmp.dir, 'predict');
    const r = await runCli(['predict', '--model', run, folder, '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as {
      thresholds: { image: number; pixel: number };
      images: Array<{ path: string; score: number; label: string; anomalous_pixel_fraction: number; heatmap: string; overlay: string; mask: string }>;
    };
    const inFolder = samples.filter((s) => s.className === 'washer');
    expect(summary.images.map((i) => i.path).sort()).toEqual(inFolder.map((s) => s.path).sort());
    const { scores } = await onnxMaps(
      onnx,
      summary.images.map((i) => inFolder.find((s) => s.path === i.path)!),
    );
    for (const [k, img] of summary.images.entries()) {
      expect(Math.abs(img.score - scores[k]!)).toBeLessThan(1e-4 * Math.max(1, scores[k]!));
      expect(img.label).toBe(img.score >= summary.thresholds.image ? 'anomalous' : 'normal');
      for (const f of [img.heatmap, img.overlay, img.mask]) {
        const m = await sharp(join(out, f)).metadata();
        expect([m.format, m.width, m.height]).toEqual(['png', 64, 64]);
      }
      const { data: mask } = await sharp(join(out, img.mask)).raw().toBuffer({ resolveWithObject: true });
      expect(mask.every((v) => v === 0 || v === 255)).toBe(true);
      expect(mask.filter((v) => v === 255).length / mask.length).toBeCloseTo(img.anomalous_pixel_fraction, 10);
    }
    const csv = (await readFile(join(out, 'summary.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('path,score,label,anomalous_pixel_fraction,heatmap,overlay,mask');
    expect(csv).toHaveLength(summary.images.length + 1);
  });

  it('--threshold overrides the model: below every score all pixels are anomalous, above none; works on the ONNX file too', async () => {
    const image = samples.find((s) => s.label === 1)!.path;
    const low = await runCli(['predict', '--model', onnx, image, '--out', join(tmp.dir, 'p-low'), '--threshold=-1', '--image-threshold=-1', '--quiet']);
    expect(low.code, low.stderr).toBe(0);
    const sLow = JSON.parse(await readFile(join(tmp.dir, 'p-low', 'summary.json'), 'utf8')) as {
      images: Array<{ anomalous_pixel_fraction: number; label: string }>;
    };
    expect(sLow.images[0]).toMatchObject({ anomalous_pixel_fraction: 1, label: 'anomalous' });
    const high = await runCli([
      'predict',
      '--model',
      run,
      image,
      '--out',
      join(tmp.dir, 'p-high'),
      '--threshold',
      '1e9',
      '--image-threshold',
      '1e9',
      '--quiet',
    ]);
    const sHigh = JSON.parse(await readFile(join(tmp.dir, 'p-high', 'summary.json'), 'utf8')) as {
      images: Array<{ anomalous_pixel_fraction: number; label: string }>;
    };
    expect(high.code).toBe(0);
    expect(sHigh.images[0]).toMatchObject({ anomalous_pixel_fraction: 0, label: 'normal' });
  });
});

describe('--device', () => {
  const image = () => samples.find((s) => s.label === 1)!.path;

  it('auto says which device it chose and why it skipped the others; cpu by name runs quietly', async () => {
    const auto = await runCli(['predict', '--model', run, image(), '--out', join(tmp.dir, 'd-auto')]);
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/^device (cpu|cuda|webgpu) \(/m);
    if (/^device cpu/m.test(auto.stderr)) expect(auto.stderr).toMatch(/; skipped cuda: .*; skipped webgpu: /);
    for (const model of [run, onnx]) {
      const out = join(tmp.dir, `d-cpu-${model === run ? 'run' : 'onnx'}`);
      const cpu = await runCli(['predict', '--model', model, image(), '--out', out, '--device', 'cpu']);
      expect(cpu.code, cpu.stderr).toBe(0);
      expect(cpu.stderr).not.toMatch(/^device /m);
      const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { model: string; images: Array<{ score: number }> };
      expect(summary.model).toMatch(/ on onnx-cpu$/);
      const truth = await onnxMaps(onnx, [samples.find((s) => s.label === 1)!]);
      expect(Math.abs(summary.images[0]!.score - truth.scores[0]!)).toBeLessThan(1e-4 * Math.max(1, truth.scores[0]!));
    }
  });

  it('webgpu without a Vulkan driver is a one-line error on eval and predict (run directory and ONNX file)', async () => {
    const saved = process.env['VK_ICD_FILENAMES'];
    process.env['VK_ICD_FILENAMES'] = join(tmp.dir, 'no-such-driver.json');
    try {
      for (const argv of [
        ['predict', '--model', run, image(), '--out', join(tmp.dir, 'd-gpu')],
        ['predict', '--model', onnx, image(), '--out', join(tmp.dir, 'd-gpu')],
        ['eval', '--model', run, '--no-baseline', '--no-report', '--out', join(tmp.dir, 'd-gpu-eval')],
      ]) {
        const r = await runCli([...argv, '--device', 'webgpu', '--quiet']);
        expect(r.code, argv.join(' ')).toBe(1);
        expect(r.stderr).toMatch(/^unias: device webgpu is not available: no Vulkan (loader|driver) [^\n]*\n$/);
      }
    } finally {
      if (saved === undefined) delete process.env['VK_ICD_FILENAMES'];
      else process.env['VK_ICD_FILENAMES'] = saved;
    }
    const bad = await runCli(['eval', '--model', run, '--device', 'gpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--device must be one of auto, cpu, webgpu, cuda, got "gpu"/);
    const tfjs = await runCli(['predict', '--model', run, image(), '--backend', 'tfjs', '--device', 'webgpu']);
    expect(tfjs.code).toBe(1);
    expect(tfjs.stderr).toMatch(/device webgpu runs on --backend onnx/);
  });
});

describe('unias export of a run', () => {
  it('onnx: the contract, with the run thresholds and classes in metadata_props', async () => {
    const session = await ort.InferenceSession.create(onnx);
    try {
      expect(session.inputNames).toEqual(['image']);
      expect([...session.outputNames].sort()).toEqual(['anomaly_map', 'score']);
    } finally {
      await session.release();
    }
    const model = JSON.parse((await readSafetensorsFile(join(run, 'model.safetensors'))).metadata['thresholds']!) as { image: number };
    const { readExportMetadata } = await import('@unias/exporters');
    const meta = await readExportMetadata(onnx);
    expect(meta.classes).toEqual(['fabric', 'washer']);
    expect(meta.inputSize).toEqual([SIZE, SIZE]);
    expect(meta.thresholds.image).toBeCloseTo(model.image, 12);
  });

  it('triton and both safetensors layouts', async () => {
    const repo = join(tmp.dir, 'triton');
    expect((await runCli(['export', '--model', run, '--format', 'triton', '--out', repo, '--name', 'tiny', '--quiet'])).code).toBe(0);
    expect((await readdir(join(repo, 'tiny'))).sort()).toEqual(['1', 'config.pbtxt']);
    expect(await readFile(join(repo, 'tiny', 'config.pbtxt'), 'utf8')).toMatch(/platform: "onnxruntime_onnx"/);
    expect((await stat(join(repo, 'tiny', '1', 'model.onnx'))).size).toBeGreaterThan(1000);
    const official = join(tmp.dir, 'official.safetensors');
    expect((await runCli(['export', '--model', run, '--format', 'safetensors', '--layout', 'official', '--out', official, '--quiet'])).code).toBe(0);
    const o = await readSafetensorsFile(official);
    const ours = await readSafetensorsFile(join(run, 'model.safetensors'));
    for (const [name, t] of ours.tensors) expect(Buffer.compare(Buffer.from(o.tensors.get(name)!.bytes), Buffer.from(t.bytes)), name).toBe(0);
  });
});

describe('unias serve', () => {
  it('serves the Triton repository `unias export --format triton` writes, config.pbtxt honoured, until SIGTERM', async () => {
    const repo = join(tmp.dir, 'triton-serve');
    expect((await runCli(['export', '--model', run, '--format', 'triton', '--out', repo, '--name', 'tiny', '--max-batch-size', '3', '--quiet'])).code).toBe(0);
    const server = await startServe(['--model-repository', repo, '--threads', '1']);
    const url = server.url;
    let code: number | null;
    try {
      const meta = (await (await fetch(`${url}/v2/models/tiny`)).json()) as { versions: string[]; outputs: Array<{ name: string; shape: number[] }> };
      expect(meta.versions).toEqual(['1']);
      // config.pbtxt's score: dims [1] with reshape [], so [N, 1] to clients.
      expect(meta.outputs.find((o) => o.name === 'score')?.shape).toEqual([-1, 1]);
      const config = (await (await fetch(`${url}/v2/models/tiny/versions/1/config`)).json()) as { max_batch_size: number };
      expect(config.max_batch_size).toBe(3);
    } finally {
      code = await server.stop();
    }
    expect(code).toBe(0);
  });

  it('serves a run directory (exported to ONNX beside its model first) until SIGTERM', async () => {
    const server = await startServe(['--model', run, '--threads', '1']);
    let code: number | null;
    try {
      expect(server.stderr()).toMatch(/exporting .*model\.safetensors to .*model\.onnx/);
      const ready = await fetch(`${server.url}/v2/health/ready`);
      expect(ready.status).toBe(200);
      const meta = (await (await fetch(`${server.url}/v2/models/model`)).json()) as { inputs: Array<{ name: string; shape: number[] }> };
      expect(meta.inputs[0]).toMatchObject({ name: 'image', shape: [-1, 3, SIZE, SIZE] });
    } finally {
      code = await server.stop();
    }
    expect(code).toBe(0);
  });
});
