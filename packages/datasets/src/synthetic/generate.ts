/**
 * Writes a synthetic MVTec-layout dataset: `CLASS/train/good`, `CLASS/test/{good,DEFECT}`,
 * `CLASS/ground_truth/DEFECT/NNN_mask.png`, plus `synthetic.json` (the options). Same options, same
 * bytes. The set is built in a sibling folder and renamed into place, so a half-written dataset is
 * never seen at `root`.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { SYNTHETIC_CLASSES, syntheticClass, type DefectType } from './classes.js';
import { renderSyntheticSample, type SampleSpec } from './render.js';

export interface SyntheticCounts {
  /** Normal training images per class (default 50). */
  readonly train?: number;
  /** Normal test images per class (default 12). */
  readonly testGood?: number;
  /** Test images per defect type per class (default 6). */
  readonly testDefect?: number;
}

export interface SyntheticOptions {
  readonly root: string;
  /** Default: all of `SYNTHETIC_CLASSES` (weave, fabric, grain, washer, tablet). */
  readonly classes?: readonly string[];
  /** Square image side in pixels (default 128). */
  readonly size?: number;
  readonly counts?: SyntheticCounts;
  readonly seed?: number;
  /**
   * When `root` exists: `error` (default); `reuse` it if it was generated with the same options
   * (else error); `overwrite` it if it is a synthetic set (else error, so no other folder is deleted).
   */
  readonly ifExists?: 'error' | 'reuse' | 'overwrite';
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SyntheticDatasetInfo {
  readonly root: string;
  readonly classes: ReadonlyArray<{ readonly name: string; readonly kind: 'texture' | 'object'; readonly defects: readonly DefectType[] }>;
  readonly images: number;
  readonly masks: number;
  /** True when an existing identical set was kept. */
  readonly reused: boolean;
}

const MANIFEST = 'synthetic.json';
const GENERATOR = '@unias/datasets synthetic';
const VERSION = 1;

interface Job {
  readonly spec: SampleSpec;
  readonly image: string;
  readonly mask: string | null;
}

function manifestText(o: { seed: number; size: number; classes: readonly string[]; counts: Required<SyntheticCounts> }): string {
  return `${JSON.stringify({ generator: GENERATOR, version: VERSION, seed: o.seed, size: o.size, classes: o.classes, counts: o.counts }, null, 2)}\n`;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function generateSyntheticDataset(options: SyntheticOptions): Promise<SyntheticDatasetInfo> {
  const root = resolve(options.root);
  const size = options.size ?? 128;
  if (!Number.isInteger(size) || size < 32) throw new RangeError(`generateSyntheticDataset: size must be an integer >= 32, got ${size}`);
  const seed = options.seed ?? 0;
  const classNames = [...(options.classes ?? SYNTHETIC_CLASSES.map((c) => c.name))];
  const classes = classNames.map(syntheticClass);
  const counts: Required<SyntheticCounts> = { train: 50, testGood: 12, testDefect: 6, ...options.counts };
  for (const [k, v] of Object.entries(counts))
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`generateSyntheticDataset: counts.${k} must be a non-negative integer, got ${v}`);
  if (counts.train === 0) throw new RangeError('generateSyntheticDataset: counts.train must be at least 1');
  const manifest = manifestText({ seed, size, classes: classNames, counts });
  const info = (reused: boolean): SyntheticDatasetInfo => ({
    root,
    classes: classes.map((c) => ({ name: c.name, kind: c.kind, defects: c.defects })),
    images: classes.reduce((n, c) => n + counts.train + counts.testGood + c.defects.length * counts.testDefect, 0),
    masks: classes.reduce((n, c) => n + c.defects.length * counts.testDefect, 0),
    reused,
  });

  if (await exists(root)) {
    const mode = options.ifExists ?? 'error';
    const existing = await readText(join(root, MANIFEST));
    if (mode === 'reuse' && existing === manifest) return info(true);
    const ours = existing !== null && existing.includes(`"generator": "${GENERATOR}"`);
    if (mode === 'overwrite' && ours) await rm(root, { recursive: true, force: true });
    else if (mode === 'reuse')
      throw new Error(
        `${root} exists but was not generated with these options (${existing === null ? `no ${MANIFEST}` : `${MANIFEST} differs`}); use ifExists: 'overwrite' or another root`,
      );
    else if (mode === 'overwrite') throw new Error(`${root} exists and is not a synthetic dataset (no ${MANIFEST} from this generator); refusing to delete it`);
    else throw new Error(`${root} already exists; pass ifExists: 'reuse' or 'overwrite'`);
  }

  const jobs: Job[] = [];
  const pad = (i: number): string => String(i).padStart(3, '0');
  for (const c of classes) {
    const dir = (...p: string[]): string => join(c.name, ...p);
    for (let i = 0; i < counts.train; i++)
      jobs.push({ spec: { className: c.name, size, seed, split: 'train', group: 'good', index: i }, image: dir('train', 'good', `${pad(i)}.png`), mask: null });
    for (let i = 0; i < counts.testGood; i++)
      jobs.push({ spec: { className: c.name, size, seed, split: 'test', group: 'good', index: i }, image: dir('test', 'good', `${pad(i)}.png`), mask: null });
    for (const d of c.defects) {
      for (let i = 0; i < counts.testDefect; i++) {
        jobs.push({
          spec: { className: c.name, size, seed, split: 'test', group: d, index: i },
          image: dir('test', d, `${pad(i)}.png`),
          mask: dir('ground_truth', d, `${pad(i)}_mask.png`),
        });
      }
    }
  }

  const staging = join(dirname(root), `.${root.split(/[\\/]/).pop()}.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const pending = new Set<Promise<void>>();
  try {
    const made = new Set<string>();
    const ensureDir = async (p: string): Promise<void> => {
      const d = dirname(p);
      if (!made.has(d)) {
        await mkdir(d, { recursive: true });
        made.add(d);
      }
    };
    let done = 0;
    for (const job of jobs) {
      // Rendering is synchronous JS; encoding runs on libuv threads, so keep a few writes in flight.
      const s = renderSyntheticSample(job.spec);
      const task = (async () => {
        const imgPath = join(staging, job.image);
        await ensureDir(imgPath);
        const png = await sharp(s.image, { raw: { width: size, height: size, channels: 3 } })
          .png({ compressionLevel: 6 })
          .toBuffer();
        await writeFile(imgPath, png);
        if (job.mask && s.mask) {
          const maskPath = join(staging, job.mask);
          await ensureDir(maskPath);
          const mpng = await sharp(s.mask, { raw: { width: size, height: size, channels: 1 } })
            .toColourspace('b-w')
            .png({ compressionLevel: 6 })
            .toBuffer();
          await writeFile(maskPath, mpng);
        }
        done++;
        options.onProgress?.(done, jobs.length);
      })();
      pending.add(task);
      void task.finally(() => pending.delete(task)).catch(() => undefined);
      if (pending.size >= 8) await Promise.race(pending);
    }
    await Promise.all(pending);
    await writeFile(join(staging, MANIFEST), manifest);
    await rename(staging, root);
  } catch (e) {
    await Promise.allSettled(pending);
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
  return info(false);
}
