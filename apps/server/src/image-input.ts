/**
 * Turns an uploaded image into the model's input: decoded with sharp (EXIF orientation applied,
 * alpha dropped, grey expanded to RGB), resized to the model's H x W, scaled to [0, 1], NCHW.
 * The pixel limit is checked from the header before any pixel is decoded (decompression bombs).
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { HttpError, badRequest } from './errors.js';

export interface DecodeLimits {
  /** Largest width x height accepted (sharp's `limitInputPixels`). */
  readonly maxInputPixels: number;
}

export interface DecodedImage {
  /** [1, 3, H, W] in [0, 1]. */
  readonly tensor: Float32Array;
  /** The resized image, H x W x 3 RGB bytes (for the overlay). */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly original: { readonly width: number; readonly height: number; readonly format: string };
}

function decodeError(e: unknown): HttpError {
  const message = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(message)) return new HttpError(413, `the image is larger than the pixel limit: ${message}`);
  return badRequest(`cannot decode the image: ${message}`);
}

export async function decodeImage(bytes: Buffer, height: number, width: number, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw badRequest('the image is empty (0 bytes)');
  const options = { limitInputPixels: limits.maxInputPixels, failOn: 'warning' as const };
  let meta: Metadata;
  try {
    // Header only (no pixels decoded), so the size check below can name the dimensions.
    meta = await sharp(bytes, { ...options, limitInputPixels: false }).metadata();
  } catch (e) {
    throw decodeError(e);
  }
  const w = meta.width;
  const h = meta.height;
  if (!w || !h) throw badRequest(`cannot decode the image: its ${meta.format ?? 'unknown'} header gives no size`);
  if (w * h > limits.maxInputPixels) {
    throw new HttpError(
      413,
      `the image is ${w}x${h} = ${w * h} pixels; the limit is ${limits.maxInputPixels} (max-input-pixels)`,
    );
  }
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(bytes, options)
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw decodeError(e);
  }
  const { data, info } = raw;
  if (info.channels !== 3 || info.width !== width || info.height !== height) {
    throw badRequest(`cannot decode the image: got ${info.width}x${info.height}x${info.channels} after conversion`);
  }
  const plane = width * height;
  const tensor = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    tensor[p] = data[p * 3]! / 255;
    tensor[plane + p] = data[p * 3 + 1]! / 255;
    tensor[2 * plane + p] = data[p * 3 + 2]! / 255;
  }
  return {
    tensor,
    rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width,
    height,
    original: { width: w, height: h, format: meta.format ?? 'unknown' },
  };
}
