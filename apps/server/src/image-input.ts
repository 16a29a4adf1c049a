/**
 * Turns an uploaded image into the model's input: decoded with sharp (EXIF orientation applied,
 * alpha dropped, grey expanded to RGB), resized to the model's H x W, scaled to [0, 1], NCHW.
 * The pixel limit is checked from the header before any pixel is decoded (decompression bombs).
 * Only the formats /predict documents are decoded (PNG, JPEG, WebP, TIFF), recognised by their
 * magic bytes before sharp sees them: never SVG (libvips would parse XML and could fetch what it
 * references), GIF, HEIF, PDF or the other formats sharp's libvips happens to read.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { HttpError, badRequest } from './errors.js';

export interface DecodeLimits {
  /** Largest width x height accepted (sharp's `limitInputPixels`). */
  readonly maxInputPixels: number;
  /** Time left for the decode (ms): libvips stops the work when it runs out (rounded up to whole seconds). */
  readonly timeoutMs?: number;
}

/** The image formats /predict decodes, in sharp's names. */
export const IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'tiff'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
export const IMAGE_FORMATS_TEXT = 'PNG, JPEG, WebP or TIFF';

/** The format of `bytes` by its magic number, or null when it is none of IMAGE_FORMATS. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  const at = (offset: number, ...values: number[]): boolean => values.every((v, i) => bytes[offset + i] === v);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  return null;
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
  if (/timeout/i.test(message)) return new HttpError(504, `decoding the image did not finish within the request deadline (request-timeout-ms): ${message}`);
  if (/pixel limit/i.test(message)) return new HttpError(413, `the image is larger than the pixel limit: ${message}`);
  return badRequest(`cannot decode the image: ${message}`);
}

export async function decodeImage(bytes: Buffer, height: number, width: number, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw badRequest('the image is empty (0 bytes)');
  const sniffed = sniffImageFormat(bytes);
  if (sniffed === null) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    throw new HttpError(415, `the image is not ${IMAGE_FORMATS_TEXT} (it starts with bytes ${head || 'none'})`);
  }
  if (limits.timeoutMs !== undefined && limits.timeoutMs <= 0) {
    throw new HttpError(504, 'no time was left to decode the image (request-timeout-ms)');
  }
  const options = { limitInputPixels: limits.maxInputPixels, failOn: 'warning' as const };
  let meta: Metadata;
  try {
    // Header only (no pixels decoded), so the size check below can name the dimensions.
    meta = await sharp(bytes, { ...options, limitInputPixels: false }).metadata();
  } catch (e) {
    throw decodeError(e);
  }
  if (meta.format !== sniffed) {
    throw badRequest(`cannot decode the image: it starts like ${sniffed} but decodes as ${meta.format ?? 'unknown'}`);
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
      .timeout({ seconds: limits.timeoutMs === undefined ? 0 : Math.max(1, Math.ceil(limits.timeoutMs / 1000)) })
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
