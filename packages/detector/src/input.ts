/**
 * What `detect` accepts, brought to one form: the encoded bytes of an image plus the name its
 * errors use. A path is read, a Buffer is taken as is, raw pixels are written to a lossless PNG in
 * memory. So every kind of input then goes through the one decoder of the image contract
 * (`@unias/image`): the same pixels give the same result whichever way they came.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { DetectorInputError } from './errors.js';

/** Interleaved pixels, row by row (what sharp's `raw()`, a canvas's ImageData or a camera gives). */
export interface RawPixels {
  readonly data: Uint8Array | Uint8ClampedArray | Uint16Array;
  readonly width: number;
  readonly height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  readonly channels: 1 | 2 | 3 | 4;
}

/** A file path, the bytes of an encoded image (PNG, JPEG, WebP, TIFF, ...), or raw pixels. */
export type DetectorInput = string | Buffer | RawPixels;

export interface EncodedInput {
  readonly bytes: Buffer;
  /** The path, or what the input was ("a Buffer of 1234 bytes"), for error messages. */
  readonly name: string;
}

export function isRawPixels(input: unknown): input is RawPixels {
  return (
    typeof input === 'object' && input !== null && !Buffer.isBuffer(input) && 'data' in input && 'width' in input && 'height' in input && 'channels' in input
  );
}

function checkRaw(p: RawPixels): string {
  const name = `raw pixels ${p.width}x${p.height}x${p.channels}`;
  if (!Number.isInteger(p.width) || !Number.isInteger(p.height) || p.width < 1 || p.height < 1)
    throw new DetectorInputError(`${name}: width and height must be positive integers`);
  if (![1, 2, 3, 4].includes(p.channels)) throw new DetectorInputError(`${name}: channels must be 1, 2, 3 or 4`);
  const want = p.width * p.height * p.channels;
  if (p.data.length !== want) throw new DetectorInputError(`${name}: expected ${want} samples, got ${p.data.length}`);
  return name;
}

/** Raw pixels as a PNG (compression 0: it is only a carrier), 16 bits when the samples are. */
async function rawToPng(p: RawPixels): Promise<Buffer> {
  const sixteen = p.data instanceof Uint16Array;
  // sharp takes the sample depth from the typed array's class: a Uint16Array is 16 bits, a Buffer 8
  const samples = p.data instanceof Uint8ClampedArray ? new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.length) : p.data;
  let img = sharp(samples, { raw: { width: p.width, height: p.height, channels: p.channels } });
  // sharp would store one or two raw channels as RGB(A) unless told they are grey
  if (p.channels <= 2) img = img.toColourspace(sixteen ? 'grey16' : 'b-w');
  else if (sixteen) img = img.toColourspace('rgb16');
  return img.png({ compressionLevel: 0 }).toBuffer();
}

export async function encodedInput(input: DetectorInput): Promise<EncodedInput> {
  if (typeof input === 'string') {
    try {
      return { bytes: await readFile(input), name: input };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new DetectorInputError(
        `${input}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not an image' : `cannot read it (${code ?? (e as Error).message})`}`,
      );
    }
  }
  if (Buffer.isBuffer(input)) {
    if (input.length === 0) throw new DetectorInputError('a Buffer of 0 bytes: not an image');
    return { bytes: input, name: `a Buffer of ${input.length} bytes` };
  }
  if (isRawPixels(input)) {
    const name = checkRaw(input);
    return { bytes: await rawToPng(input), name };
  }
  throw new DetectorInputError(
    `detect: expected a file path, a Buffer of an encoded image or raw pixels {data, width, height, channels}, got ${Object.prototype.toString.call(input)}`,
  );
}
