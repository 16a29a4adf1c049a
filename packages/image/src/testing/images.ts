/** Test support (`@unias/image/testing`): temp folders and small images written with sharp, with exact samples. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `unias-image-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
  /** Interleaved samples: bytes, or 16-bit values in a Uint16Array. */
  readonly data: Uint8Array | Uint16Array;
}

/** PNG bytes with exactly these samples (grey stays grey, 16-bit stays 16-bit). */
export async function pngBytes(img: RawImage): Promise<Buffer> {
  const sixteen = img.data instanceof Uint16Array;
  let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
  if (img.channels <= 2) s = s.toColourspace(sixteen ? 'grey16' : 'b-w');
  else if (sixteen) s = s.toColourspace('rgb16');
  return s.png().toBuffer();
}

export async function writePng(path: string, img: RawImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await pngBytes(img));
}

export async function writeJpeg(path: string, img: RawImage, orientation?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' });
  if (orientation !== undefined) s = s.withMetadata({ orientation });
  await writeFile(path, await s.toBuffer());
}
