/**
 * Weights from an ONNX model's initializers, by name (float, float16, bfloat16, double; raw_data
 * or the typed fields). Integer initializers (shapes, indices) are not weights and are skipped.
 */
import { readFile } from 'node:fs/promises';
import { bf16ToFloat, halfToFloat, type TensorData } from '@unias/graph';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNamespace } from 'onnx-proto';
import { WeightCollector, type ImportOptions, type WeightMap } from './names.js';

// onnx-proto is CommonJS: under ESM only its default import works at run time.
const onnx = onnxProto.onnx;

const FLOAT = 1;
const FLOAT16 = 10;
const DOUBLE = 11;
const BFLOAT16 = 16;
const FLOAT_TYPES = new Set([FLOAT, FLOAT16, DOUBLE, BFLOAT16]);

function dimsOf(t: OnnxNamespace.ITensorProto, where: string): number[] {
  return (t.dims ?? []).map((d) => {
    const n = typeof d === 'number' ? d : Number(String(d));
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${where}: bad dimension ${String(d)}`);
    return n;
  });
}

/** One initializer's values as float32; throws naming it when its data does not fill its shape. */
export function onnxTensorToFloat32(t: OnnxNamespace.ITensorProto, source: string): TensorData<'float32'> {
  const where = `${source}: initializer "${t.name ?? ''}"`;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new Error(`${where} keeps its data in an external file, which is not supported; re-save the model with its weights inside`);
  }
  const shape = dimsOf(t, where);
  const n = shape.reduce((a, d) => a * d, 1);
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: shape [${shape.join(',')}] is too large`);
  const raw = t.rawData && t.rawData.byteLength > 0 ? t.rawData : null;
  const type = t.dataType ?? 0;
  const size = type === DOUBLE ? 8 : type === FLOAT ? 4 : 2;
  // how many values the data holds, checked against the shape before anything is allocated: a
  // corrupt dimension must not ask for gigabytes
  const got = raw ? raw.byteLength / size : ((type === FLOAT ? t.floatData : type === DOUBLE ? t.doubleData : t.int32Data)?.length ?? 0);
  if (got !== n) throw new Error(`${where}: ${got} values for shape [${shape.join(',')}] (${n} expected)`);
  const out = new Float32Array(n);
  if (raw) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) {
      switch (type) {
        case FLOAT:
          out[i] = dv.getFloat32(4 * i, true);
          break;
        case DOUBLE:
          out[i] = dv.getFloat64(8 * i, true);
          break;
        case FLOAT16:
          out[i] = halfToFloat(dv.getUint16(2 * i, true));
          break;
        default:
          out[i] = bf16ToFloat(dv.getUint16(2 * i, true));
          break;
      }
    }
  } else if (type === FLOAT) {
    out.set(t.floatData ?? []);
  } else if (type === DOUBLE) {
    out.set(t.doubleData ?? []);
  } else {
    // float16 / bfloat16 without raw_data: one 16-bit pattern per int32_data entry.
    const v = t.int32Data ?? [];
    const conv = type === FLOAT16 ? halfToFloat : bf16ToFloat;
    for (let i = 0; i < n; i++) out[i] = conv(v[i]! & 0xffff);
  }
  return { dtype: 'float32', shape, data: out };
}

export function weightsFromOnnxModel(model: OnnxNamespace.IModelProto, source: string, options: ImportOptions = {}): WeightMap {
  const inits = model.graph?.initializer ?? [];
  const collector = new WeightCollector(source, options);
  for (const t of inits) {
    if (!FLOAT_TYPES.has(t.dataType ?? 0)) continue;
    const name = t.name ?? '';
    if (!name) throw new Error(`${source}: an initializer has no name`);
    collector.add(name, () => onnxTensorToFloat32(t, source));
  }
  return collector.weights;
}

/** Reads and decodes an ONNX model (a path or its bytes); errors name the file. */
export async function readOnnxModel(source: string | Uint8Array): Promise<{ model: OnnxNamespace.ModelProto; label: string }> {
  const label = typeof source === 'string' ? source : 'ONNX bytes';
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = await readFile(source);
    } catch (e) {
      throw new Error(`cannot read ONNX file ${source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else bytes = source;
  try {
    return { model: onnx.ModelProto.decode(bytes), label };
  } catch (e) {
    throw new Error(`${label}: not a valid ONNX model (${(e as Error).message})`);
  }
}

/** Reads an ONNX model (a path or its bytes) and returns its float initializers, renamed. */
export async function importOnnx(source: string | Uint8Array, options: ImportOptions = {}): Promise<WeightMap> {
  const { model, label } = await readOnnxModel(source);
  return weightsFromOnnxModel(model, label, options);
}
