import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { isFolderEntry, isImageFile } from '@unias/datasets';
import { writeFileAtomic } from '@unias/graph';
import type { Command } from '../command.js';
import { num, parse, requireStr, str } from '../args.js';
import { UsageError, UserError } from '../errors.js';
import { createDetector } from '@unias/detector';
import { createProgress } from '../progress.js';
import { outputNames } from './output-names.js';
import { backendArg, deviceArg } from './runtime-args.js';

const USAGE = `usage: unias predict --model RUN_DIR|MODEL.safetensors|FILE.onnx IMAGE_OR_FOLDER... [options]

Anomaly maps for images (folders are searched recursively, following links), at each image's own size:
  NAME.heatmap.png   the map in colour (blue low, red high; 0 .. 2 x the pixel threshold when known,
                     else the image's own min .. max)
  NAME.overlay.png   the heat map over the image
  NAME.mask.png      the binary mask (white = anomalous), when a pixel threshold is known
and summary.json / summary.csv (score, label, anomalous pixel fraction per image). NAME is the
image's path under the folder given ('/' as '__'); names that would collide (x.png and x.jpg, or
A.png and a.png on a case-insensitive disk) get -2, -3, ...

Thresholds come with the model (set at the end of training from normal training images: the 0.99
quantile of their image scores and the 0.999 quantile of their pixel scores, or by
\`unias eval --save-thresholds\` from a labelled set); these flags override them.

  --model PATH            a run directory, a model .safetensors (unias layout) or an exported .onnx file
  --out DIR               output folder (default runs/predict)
  --threshold X           pixel threshold for the masks
  --image-threshold X     image-score threshold for the label
  --backend B             onnx (default) | tfjs (run directories and .safetensors models)
  --device D              auto (default; says which and why) | cpu | webgpu | cuda (docs/devices.md)
  --batch N               images per inference run (default 8)
  --threads N             onnxruntime threads`;

const OPTIONS = {
  model: { type: 'string' },
  out: { type: 'string' },
  threshold: { type: 'string' },
  'image-threshold': { type: 'string' },
  backend: { type: 'string' },
  device: { type: 'string' },
  batch: { type: 'string' },
  threads: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

export async function collectImages(inputs: readonly string[]): Promise<Array<{ path: string; name: string }>> {
  const found: Array<{ path: string; rel: string }> = [];
  // folders by real path: a symbolic link back up the tree must not loop
  const seen = new Set<string>();
  const walk = async (dir: string, base: string): Promise<void> => {
    const real = await realpath(dir);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (await isFolderEntry(dir, e)) await walk(p, base);
      else if (isImageFile(e.name)) found.push({ path: p, rel: relative(base, p) });
    }
  };
  for (const input of inputs) {
    const abs = resolve(input);
    const st = await stat(abs).catch(() => null);
    if (!st) throw new UserError(`${input}: no such file or folder`);
    if (st.isDirectory()) {
      const before = found.length;
      // with several inputs, names start with the folder's own name
      await walk(abs, inputs.length > 1 ? dirname(abs) : abs);
      if (found.length === before) throw new UserError(`${input}: no images in this folder`);
    } else {
      if (!isImageFile(abs)) throw new UserError(`${input}: not an image file (by its extension)`);
      found.push({ path: abs, rel: basename(abs) });
    }
  }
  const names = outputNames(found.map((f) => f.rel));
  return found.map((f, i) => ({ path: f.path, name: names[i]! }));
}

function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const command: Command = {
  name: 'predict',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, OPTIONS, true);
    const model = requireStr(args, 'model');
    if (args.positionals.length === 0) throw new UsageError('give at least one image or folder');
    const backend = backendArg(str(args, 'backend'));
    const device = deviceArg(str(args, 'device'));
    const pixelFlag = num(args, 'threshold');
    const imageFlag = num(args, 'image-threshold');
    const batchSize = num(args, 'batch', { int: true, min: 1 }) ?? 8;
    const threads = num(args, 'threads', { int: true, min: 1 });
    const outDir = resolve(str(args, 'out') ?? join('runs', 'predict'));
    const images = await collectImages(args.positionals);
    const log = args.values['quiet'] ? undefined : (l: string) => process.stderr.write(`${l}\n`);
    const detector = await createDetector(model, {
      backend,
      ...(threads !== undefined ? { threads } : {}),
      ...(device ? { device } : {}),
      ...(log ? { log } : {}),
      ...(pixelFlag !== undefined ? { threshold: pixelFlag } : {}),
      ...(imageFlag !== undefined ? { imageThreshold: imageFlag } : {}),
      thresholdSource: 'command line',
    });
    const thresholds = detector.thresholds;
    const rows: Array<Record<string, string | number | null>> = [];
    const bar = args.values['quiet'] ? null : createProgress({ total: images.length, label: 'predict' });
    try {
      let k = 0;
      // the pictures are at each image's own size (EXIF-oriented, as decoded for the model)
      for await (const d of detector.detectMany(
        images.map((c) => c.path),
        { batchSize, onProgress: (done) => bar?.update(done) },
      )) {
        const c = images[k++]!;
        const files: Record<string, string> = { heatmap: `${c.name}.heatmap.png`, overlay: `${c.name}.overlay.png` };
        await writeFileAtomic(join(outDir, files['heatmap']!), await d.heatmapPng());
        await writeFileAtomic(join(outDir, files['overlay']!), await d.overlayPng());
        const mask = await d.maskPng();
        if (mask !== null) {
          files['mask'] = `${c.name}.mask.png`;
          await writeFileAtomic(join(outDir, files['mask']), mask);
        }
        rows.push({
          path: c.path,
          score: d.score,
          label: d.label,
          anomalous_pixel_fraction: d.anomalousFraction,
          heatmap: files['heatmap']!,
          overlay: files['overlay']!,
          mask: files['mask'] ?? null,
        });
      }
      bar?.done();
    } finally {
      await detector.dispose();
    }
    const [h, w] = detector.inputSize;
    const pixelT = thresholds.pixel;
    const imageT = thresholds.image;
    const summary = {
      model: detector.description,
      input_size: [h, w],
      thresholds,
      images: rows,
    };
    await writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const cols = ['path', 'score', 'label', 'anomalous_pixel_fraction', 'heatmap', 'overlay', 'mask'];
    await writeFileAtomic(join(outDir, 'summary.csv'), `${cols.join(',')}\n${rows.map((r) => cols.map((k) => csvField(r[k] ?? null)).join(',')).join('\n')}\n`);
    const anomalous = rows.filter((r) => r.label === 'anomalous').length;
    process.stdout.write(
      `${rows.length} image(s)${imageT !== null ? `, ${anomalous} anomalous at image threshold ${imageT.toPrecision(5)}` : ' (no image threshold: scores only)'}` +
        `${pixelT !== null ? `, masks at pixel threshold ${pixelT.toPrecision(5)}` : ', no masks (no pixel threshold)'}\n${join(outDir, 'summary.json')}\n`,
    );
  },
};
