/** Helpers for this package's tests: temp folders, small images and MVTec trees. Not exported. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJpeg, writePng, type RawImage } from '@unias/image/testing';

// The exact-sample PNG/JPEG writers are @unias/image's (the decoder's own tests use them).
export { writeJpeg, writePng, type RawImage };

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `unias-datasets-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function solid(width: number, height: number, rgb: readonly [number, number, number]): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, channels: 3, data };
}

/** A grey mask with `on` pixels (value 255) inside the rectangle [x0, x1) x [y0, y1). */
export function rectMask(width: number, height: number, x0: number, y0: number, x1: number, y1: number): RawImage {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 255;
  return { width, height, channels: 1, data };
}

export function emptyMask(width: number, height: number): RawImage {
  return { width, height, channels: 1, data: new Uint8Array(width * height) };
}

/** A small RGB image whose pixels encode their position, so that a wrong index shows. */
export function gradient(width: number, height: number, seed = 0): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 37 + seed * 11) % 256;
      data[o + 1] = (y * 53 + seed * 7) % 256;
      data[o + 2] = (x * 13 + y * 29 + seed) % 256;
    }
  }
  return { width, height, channels: 3, data };
}

/**
 * An MVTec-layout tree: `spec[class] = { train, testGood, defects: { type: count } }`, 16x16 PNG
 * images with a mask per defective image.
 */
export async function writeMvtecTree(
  root: string,
  spec: Readonly<Record<string, { train: number; testGood: number; defects: Readonly<Record<string, number>>; ext?: string }>>,
  size = 16,
): Promise<void> {
  for (const [cls, s] of Object.entries(spec)) {
    const ext = s.ext ?? 'png';
    const write = (p: string, img: RawImage): Promise<void> => (ext === 'png' ? writePng(p, img) : writeJpeg(p, img));
    for (let i = 0; i < s.train; i++) await write(join(root, cls, 'train', 'good', `${pad(i)}.${ext}`), gradient(size, size, i));
    for (let i = 0; i < s.testGood; i++) await write(join(root, cls, 'test', 'good', `${pad(i)}.${ext}`), gradient(size, size, 100 + i));
    for (const [type, n] of Object.entries(s.defects)) {
      for (let i = 0; i < n; i++) {
        await write(join(root, cls, 'test', type, `${pad(i)}.${ext}`), gradient(size, size, 200 + i));
        await writePng(join(root, cls, 'ground_truth', type, `${pad(i)}_mask.png`), rectMask(size, size, 2, 2, 6 + i, 6));
      }
    }
  }
}

export function pad(i: number): string {
  return String(i).padStart(3, '0');
}
