/**
 * Turns an uploaded image into the model's input by the image contract of `@unias/image` (the same
 * decode, resize and scaling as training and `unias predict`): EXIF orientation applied, grey to RGB,
 * alpha over black, resized to the model's H x W with the linear kernel, [0, 1], NCHW.
 * The pixel limit is checked from the header before any pixel is decoded (decompression bombs).
 * Only the formats /predict documents are decoded (PNG, JPEG, WebP, TIFF), recognised by their
 * magic bytes before sharp sees them: never SVG (libvips would parse XML and could fetch what it
 * references), GIF, HEIF, PDF or the other formats sharp's libvips happens to read.
 */
import { decodeImageBytes, planarToRgb, readImageHeaderBytes, type DecodedImage as ContractImage, type ImageHeader } from '@unias/image';
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

/** What the bytes are called in the decoder's errors (stripped again here: the answer's own words say it). */
const BODY = 'the image';

function decodeError(e: unknown): HttpError {
  const message = (e instanceof Error ? e.message : String(e)).replace(`${BODY}: `, '').replace(/^(cannot decode image|cannot read image header): /, '');
  if (/timeout/i.test(message)) return new HttpError(504, `decoding the image did not finish within the request deadline (request-timeout-ms): ${message}`);
  if (/pixel limit/i.test(message)) return new HttpError(413, `the image is larger than the pixel limit: ${message}`);
  return badRequest(`cannot decode the image: ${message}`);
}

export async function decodeUpload(bytes: Buffer, height: number, width: number, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw badRequest('the image is empty (0 bytes)');
  const sniffed = sniffImageFormat(bytes);
  if (sniffed === null) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    throw new HttpError(415, `the image is not ${IMAGE_FORMATS_TEXT} (it starts with bytes ${head || 'none'})`);
  }
  if (limits.timeoutMs !== undefined && limits.timeoutMs <= 0) {
    throw new HttpError(504, 'no time was left to decode the image (request-timeout-ms)');
  }
  let header: ImageHeader;
  try {
    // Header only (no pixels decoded), so the size check below can name the dimensions.
    header = await readImageHeaderBytes(bytes, BODY);
  } catch (e) {
    throw decodeError(e);
  }
  if (header.format !== sniffed) {
    throw badRequest(`cannot decode the image: it starts like ${sniffed} but decodes as ${header.format}`);
  }
  const { width: w, height: h } = header;
  if (w * h > limits.maxInputPixels) {
    throw new HttpError(413, `the image is ${w}x${h} = ${w * h} pixels; the limit is ${limits.maxInputPixels} (max-input-pixels)`);
  }
  let decoded: ContractImage;
  try {
    decoded = await decodeImageBytes(bytes, BODY, {
      size: { width, height },
      limitInputPixels: limits.maxInputPixels,
      timeoutSeconds: limits.timeoutMs === undefined ? 0 : Math.max(1, Math.ceil(limits.timeoutMs / 1000)),
    });
  } catch (e) {
    throw decodeError(e);
  }
  return {
    tensor: decoded.data,
    rgb: planarToRgb(decoded.data, { width, height }),
    width,
    height,
    original: { width: w, height: h, format: header.format },
  };
}
