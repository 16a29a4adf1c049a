/**
 * Reads `metadata_props` from an ONNX file without decoding the whole protobuf: onnxruntime-node does
 * not expose custom metadata, and decoding every initializer just for a few strings would double the
 * model's memory for a moment. This walks the top-level fields of ModelProto and decodes only field 14.
 */

/** ModelProto field numbers (onnx.proto). */
const MODEL_METADATA_PROPS = 14;
/** StringStringEntryProto field numbers. */
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

export class OnnxFormatError extends Error {
  override readonly name = 'OnnxFormatError';
}

interface Cursor {
  pos: number;
}

function readVarint(bytes: Uint8Array, cur: Cursor, end: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (cur.pos >= end) throw new OnnxFormatError('truncated varint');
    const b = bytes[cur.pos++]!;
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return result;
    scale *= 128;
  }
  throw new OnnxFormatError('varint longer than 10 bytes');
}

/** Calls `onField(field, start, end)` for each length-delimited field; skips the others. */
function walkFields(bytes: Uint8Array, start: number, end: number, onField: (field: number, start: number, end: number) => void): void {
  const cur: Cursor = { pos: start };
  while (cur.pos < end) {
    const tag = readVarint(bytes, cur, end);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 0) throw new OnnxFormatError(`field number 0 at byte ${cur.pos}`);
    switch (wire) {
      case WIRE_VARINT:
        readVarint(bytes, cur, end);
        break;
      case WIRE_I64:
        cur.pos += 8;
        break;
      case WIRE_I32:
        cur.pos += 4;
        break;
      case WIRE_LEN: {
        const len = readVarint(bytes, cur, end);
        const s = cur.pos;
        cur.pos += len;
        if (cur.pos > end) throw new OnnxFormatError(`field ${field} runs past the end (${len} bytes at ${s})`);
        onField(field, s, cur.pos);
        break;
      }
      default:
        throw new OnnxFormatError(`unsupported wire type ${wire} for field ${field} at byte ${cur.pos}`);
    }
    if (cur.pos > end) throw new OnnxFormatError('a field runs past the end of the message');
  }
}

/** The `metadata_props` of an ONNX ModelProto as a plain record (later duplicates win). */
export function readOnnxMetadataProps(bytes: Uint8Array): Record<string, string> {
  const props: Record<string, string> = {};
  const decoder = new TextDecoder('utf-8', { fatal: false });
  walkFields(bytes, 0, bytes.length, (field, s, e) => {
    if (field !== MODEL_METADATA_PROPS) return;
    let key = '';
    let value = '';
    walkFields(bytes, s, e, (f, fs, fe) => {
      if (f === ENTRY_KEY) key = decoder.decode(bytes.subarray(fs, fe));
      else if (f === ENTRY_VALUE) value = decoder.decode(bytes.subarray(fs, fe));
    });
    props[key] = value;
  });
  return props;
}
