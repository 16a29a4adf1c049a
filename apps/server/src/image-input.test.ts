import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeUpload, sniffImageFormat } from './image-input.js';

const raw = () => sharp(Buffer.alloc(8 * 8 * 3, 100), { raw: { width: 8, height: 8, channels: 3 } });

describe('sniffImageFormat', () => {
  it('recognises the documented formats by their bytes, as sharp writes them, and nothing else', async () => {
    expect(sniffImageFormat(await raw().png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await raw().jpeg().toBuffer())).toBe('jpeg');
    expect(sniffImageFormat(await raw().webp().toBuffer())).toBe('webp');
    expect(sniffImageFormat(await raw().tiff().toBuffer())).toBe('tiff');
    expect(sniffImageFormat(await raw().gif().toBuffer())).toBeNull();
    expect(sniffImageFormat(Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
    expect(sniffImageFormat(Buffer.from('RIFF\0\0\0\0WAVEfmt '))).toBeNull();
    expect(sniffImageFormat(Buffer.alloc(0))).toBeNull();
  });
});

describe('decodeUpload', () => {
  it('refuses SVG before any decoder sees it (415), and decodes nothing once the deadline has passed (504)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>');
    await expect(decodeUpload(svg, 8, 8, { maxInputPixels: 1e6 })).rejects.toMatchObject({ status: 415 });
    const png = await raw().png().toBuffer();
    await expect(decodeUpload(png, 8, 8, { maxInputPixels: 1e6, timeoutMs: 0 })).rejects.toMatchObject({
      status: 504,
      message: expect.stringMatching(/no time was left/),
    });
    const ok = await decodeUpload(png, 4, 4, { maxInputPixels: 1e6, timeoutMs: 5_000 });
    expect(ok.tensor.every((v) => Math.abs(v - 100 / 255) < 1e-6)).toBe(true);
  });
});
