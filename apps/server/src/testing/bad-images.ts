/** Hostile and broken images, made in code. */
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed) >>> 0);
  return Buffer.concat([len, typed, crc]);
}

/**
 * A valid-looking PNG of a few hundred bytes whose header declares `width` x `height` RGB pixels
 * (a decompression bomb: decoding it would need width * height * 3 bytes).
 */
export function pngBomb(width = 30000, height = 30000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  // The first rows of zeros; the rest would follow in a real bomb.
  const idat = deflateSync(Buffer.alloc(4 * (1 + width * 3)), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The first `fraction` of a valid file. */
export function truncated(file: Buffer, fraction = 0.5): Buffer {
  return file.subarray(0, Math.max(1, Math.floor(file.length * fraction)));
}

/** A valid PNG signature and header followed by garbage. */
export function corruptAfterHeader(file: Buffer, keep = 40): Buffer {
  const out = Buffer.from(file);
  for (let i = keep; i < out.length; i++) out[i] = (i * 131 + 7) & 0xff;
  return out;
}
