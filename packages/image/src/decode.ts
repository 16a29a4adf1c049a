/**
 * Decoding with sharp, the steps of the image contract (contract.ts): any format sharp reads, 8 or
 * 16 bits, grey / grey+alpha / RGB / RGBA (CMYK: sharp's raw output is sRGB), EXIF orientation applied. Images come out as planar
 * RGB float32 in [0, 1]; masks as 0/1 bytes. Files are read into memory first, so libvips never
 * serves a stale cached decode of a file that changed on disk, and a missing file is reported by name.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { ALPHA_BACKGROUND, RESIZE_FIT, RESIZE_KERNEL, type ResizeKernel } from './contract.js';
import { ImageDecodeError } from './errors.js';

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

export interface ImageHeader extends ImageSize {
  /** Format sharp detected: png, jpeg, tiff, webp... */
  readonly format: string;
  readonly channels: number;
  readonly bitDepth: 8 | 16;
  /** EXIF orientation tag (1 when absent). `width`/`height` are the size after applying it. */
  readonly orientation: number;
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(path, code === 'ENOENT' ? 'file does not exist' : `cannot read file (${code ?? (e as Error).message})`);
  }
}

/** Limits for bytes from outside (the server): decompression bombs and slow decodes. */
export interface DecodeLimits {
  /** Largest width x height decoded (sharp's `limitInputPixels`); unlimited when omitted. */
  readonly limitInputPixels?: number;
  /** libvips stops the work after this many seconds (0 or omitted: no limit). */
  readonly timeoutSeconds?: number;
}

function open(bytes: Buffer, limits: DecodeLimits = {}): Sharp {
  // failOn 'warning': truncated or corrupt pixel data is an error, not a grey fill.
  const img = sharp(bytes, { autoOrient: true, failOn: 'warning', limitInputPixels: limits.limitInputPixels ?? false });
  return limits.timeoutSeconds ? img.timeout({ seconds: limits.timeoutSeconds }) : img;
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, ' ').trim();
}

function headerFrom(meta: Metadata, path: string): ImageHeader {
  if (!meta.width || !meta.height || !meta.format) throw new ImageDecodeError(path, 'not a readable image (no size or format in its header)');
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  return {
    format: meta.format,
    width: swap ? meta.height : meta.width,
    height: swap ? meta.width : meta.height,
    channels: meta.channels ?? 3,
    bitDepth: is16Bit(meta) ? 16 : 8,
    orientation,
  };
}

function is16Bit(meta: Metadata): boolean {
  return meta.depth === 'ushort' || meta.depth === 'short' || (meta.bitsPerSample ?? 8) > 8;
}

/** Reads only the header: format, oriented size, channels, bit depth. */
export async function readImageHeader(path: string): Promise<ImageHeader> {
  return readImageHeaderBytes(await readBytes(path), path);
}

/** `readImageHeader` of bytes in memory (no pixel is decoded); `name` says what they are in errors. */
export async function readImageHeaderBytes(bytes: Buffer, name: string): Promise<ImageHeader> {
  try {
    // No pixel limit here: only the header is read, and a caller names the size it refuses.
    return headerFrom(await sharp(bytes, { limitInputPixels: false }).metadata(), name);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(name, `cannot read image header: ${describe(e)}`);
  }
}

interface RawPixels {
  /** Interleaved samples, 8- or 16-bit. */
  readonly data: Uint8Array | Uint16Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** 255 or 65535. */
  readonly max: number;
}

async function decodeRaw(
  bytes: Buffer,
  path: string,
  resize: (ImageSize & { kernel: ResizeKernel }) | null,
  limits: DecodeLimits = {},
): Promise<{ pixels: RawPixels; header: ImageHeader }> {
  try {
    const img = open(bytes, limits);
    const header = headerFrom(await img.metadata(), path);
    let pipeline = img;
    if (resize && (resize.width !== header.width || resize.height !== header.height)) {
      pipeline = pipeline.resize(resize.width, resize.height, { fit: RESIZE_FIT, kernel: resize.kernel });
    }
    if (header.bitDepth === 16) {
      const { data, info } = await pipeline.toColourspace('rgb16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
      const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
      return { header, pixels: { data: u16, width: info.width, height: info.height, channels: info.channels, max: 65535 } };
    }
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    return {
      header,
      pixels: {
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        width: info.width,
        height: info.height,
        channels: info.channels,
        max: 255,
      },
    };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(path, `cannot decode image: ${describe(e)}`);
  }
}

export interface DecodedImage extends ImageSize {
  /** Planar RGB `[3, height, width]` in [0, 1]. */
  readonly data: Float32Array;
  /** Size of the file's image after EXIF orientation, before resizing. */
  readonly source: ImageHeader;
}

export interface DecodeImageOptions {
  /** Output size; the file's own size when omitted. */
  readonly size?: ImageSize;
  /** The contract's `linear` unless a caller studies another (never for a model's input). */
  readonly kernel?: ResizeKernel;
  /** Colour that transparent pixels are composited over, RGB in [0, 1]. Default: the contract's black. */
  readonly alphaBackground?: readonly [number, number, number];
}

/**
 * Decodes a file to planar RGB float32 in [0, 1]: grey is replicated to three channels, alpha is
 * composited over `alphaBackground`, 16-bit samples keep their precision.
 */
export async function decodeImage(path: string, options: DecodeImageOptions = {}): Promise<DecodedImage> {
  return decodeImageBytes(await readBytes(path), path, options);
}

/**
 * `decodeImage` of bytes already in memory (an upload); `name` says what they are in errors. Over
 * `limits.limitInputPixels` the error says "pixel limit", past `timeoutSeconds` "timeout" (sharp's words).
 */
export async function decodeImageBytes(bytes: Buffer, name: string, options: DecodeImageOptions & DecodeLimits = {}): Promise<DecodedImage> {
  const resize = options.size ? { ...options.size, kernel: options.kernel ?? RESIZE_KERNEL } : null;
  const { pixels, header } = await decodeRaw(bytes, name, resize, options);
  return toPlanarRgb(pixels, header, options.alphaBackground ?? ALPHA_BACKGROUND);
}

/** Steps 3 and 4 of the contract: grey to RGB, alpha over the background, samples to [0, 1]. */
function toPlanarRgb(pixels: RawPixels, header: ImageHeader, background: readonly [number, number, number]): DecodedImage {
  const { width, height, channels, data, max } = pixels;
  const [br, bg, bb] = background;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const inv = 1 / max;
  for (let i = 0; i < plane; i++) {
    const o = i * channels;
    let r: number;
    let g: number;
    let b: number;
    let a = 1;
    if (channels <= 2) {
      r = g = b = data[o]! * inv;
      if (channels === 2) a = data[o + 1]! * inv;
    } else {
      r = data[o]! * inv;
      g = data[o + 1]! * inv;
      b = data[o + 2]! * inv;
      if (channels >= 4) a = data[o + 3]! * inv;
    }
    if (a < 1) {
      r = r * a + br * (1 - a);
      g = g * a + bg * (1 - a);
      b = b * a + bb * (1 - a);
    }
    out[i] = r;
    out[plane + i] = g;
    out[2 * plane + i] = b;
  }
  return { width, height, data: out, source: header };
}

export interface DecodedMask extends ImageSize {
  /** `[height, width]`, 1 where the mask file is > 0 in any colour channel (and not fully transparent). */
  readonly data: Uint8Array;
  readonly source: ImageHeader;
}

/**
 * Decodes a mask and binarises it (> 0), then resizes by nearest neighbour (centre-aligned:
 * output pixel x samples input floor((x + 0.5) * inW / outW)), so it stays exactly 0/1.
 */
export async function decodeMask(path: string, size?: ImageSize): Promise<DecodedMask> {
  const { pixels, header } = await decodeRaw(await readBytes(path), path, null);
  const { width, height, channels, data } = pixels;
  const colour = channels === 2 || channels === 4 ? channels - 1 : channels;
  const hasAlpha = colour !== channels;
  const full = new Uint8Array(width * height);
  for (let i = 0; i < full.length; i++) {
    const o = i * channels;
    let on = false;
    for (let c = 0; c < colour; c++) if (data[o + c]! > 0) on = true;
    if (hasAlpha && data[o + colour]! === 0) on = false;
    full[i] = on ? 1 : 0;
  }
  if (!size || (size.width === width && size.height === height)) return { width, height, data: full, source: header };
  return { width: size.width, height: size.height, data: resizeNearest(full, { width, height }, size), source: header };
}

/** Nearest-neighbour resize of one plane, centre-aligned (the sampling PIL and OpenCV's INTER_NEAREST_EXACT use). */
export function resizeNearest(src: Uint8Array, from: ImageSize, to: ImageSize): Uint8Array {
  const out = new Uint8Array(to.width * to.height);
  const xs = new Int32Array(to.width);
  for (let x = 0; x < to.width; x++) xs[x] = Math.min(from.width - 1, Math.floor(((x + 0.5) * from.width) / to.width));
  for (let y = 0; y < to.height; y++) {
    const sy = Math.min(from.height - 1, Math.floor(((y + 0.5) * from.height) / to.height));
    const row = sy * from.width;
    const o = y * to.width;
    for (let x = 0; x < to.width; x++) out[o + x] = src[row + xs[x]!]!;
  }
  return out;
}

/** Decodes every pixel and discards them: the `full` check (catches truncated data that a header read misses). */
export async function verifyDecodes(path: string): Promise<ImageHeader> {
  const bytes = await readBytes(path);
  try {
    const img = open(bytes);
    const header = headerFrom(await img.metadata(), path);
    await img.raw().toBuffer();
    return header;
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(path, `cannot decode image: ${describe(e)}`);
  }
}
