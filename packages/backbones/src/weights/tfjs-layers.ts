/**
 * Weights from a TensorFlow.js layers model (model.json + binary weight shards), including the
 * converter's quantisation (`uint8` / `uint16`: value = q * scale + min; `float16`), converted to
 * PyTorch names and layouts (see keras-layout.ts).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { halfToFloat } from '@unias/graph';
import { kerasToTorchName, kerasToTorchTensor } from './keras-layout.js';
import { WeightCollector, type ImportOptions, type WeightMap } from './names.js';

export interface TfjsQuantization {
  readonly dtype: 'uint8' | 'uint16' | 'float16';
  readonly scale?: number;
  readonly min?: number;
}

export interface TfjsWeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: TfjsQuantization;
}

export interface TfjsWeightsGroup {
  readonly paths: readonly string[];
  readonly weights: readonly TfjsWeightSpec[];
}

/** The parts of a tfjs model.json this package reads. */
export interface TfjsModelJson {
  readonly modelTopology?: unknown;
  readonly weightsManifest: readonly TfjsWeightsGroup[];
}

const QUANTIZED = new Set<string>(['uint8', 'uint16', 'float16']);
const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** Checks the shape of a parsed model.json, naming what is wrong. */
export function checkTfjsModelJson(json: unknown, source: string): TfjsModelJson {
  const bad = (why: string): never => {
    throw new Error(`${source}: not a tfjs layers model.json: ${why}`);
  };
  if (typeof json !== 'object' || json === null) bad('not a JSON object');
  const manifest = (json as { weightsManifest?: unknown }).weightsManifest;
  if (!Array.isArray(manifest)) bad('no "weightsManifest" array');
  (manifest as unknown[]).forEach((g, gi) => {
    const group = g as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string')) bad(`weightsManifest[${gi}].paths is not a list of strings`);
    if (!Array.isArray(group.weights)) bad(`weightsManifest[${gi}].weights is not a list`);
    (group.weights as unknown[]).forEach((w, wi) => {
      const spec = w as Partial<TfjsWeightSpec>;
      const where = `weightsManifest[${gi}].weights[${wi}]${typeof spec.name === 'string' ? ` ("${spec.name}")` : ''}`;
      if (typeof spec.name !== 'string') bad(`${where} has no name`);
      if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`${where} has a bad shape`);
      if (!Number.isSafeInteger(spec.shape!.reduce((a, d) => a * d, 1) * 4)) bad(`${where} has a shape too large to hold`);
      const q = spec.quantization;
      if (q && !QUANTIZED.has(q.dtype)) bad(`${where} has unsupported quantization dtype "${String(q.dtype)}"`);
      if (q && q.dtype !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number'))
        bad(`${where}: ${q.dtype} quantization needs scale and min`);
      // own keys only: "constructor" or "toString" is no dtype
      if (!q && !(typeof spec.dtype === 'string' && Object.hasOwn(BYTES, spec.dtype))) bad(`${where} has unsupported dtype "${String(spec.dtype)}"`);
    });
  });
  return json as TfjsModelJson;
}

/**
 * Decodes the weights of every manifest group from their concatenated shard bytes (groups in
 * manifest order, as `tf.io.fromMemory` takes them), keeping the Keras names and layouts.
 */
export function decodeTfjsWeights(model: TfjsModelJson, weightData: Uint8Array, source: string): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const dv = new DataView(weightData.buffer, weightData.byteOffset, weightData.byteLength);
  let at = 0;
  for (const group of model.weightsManifest) {
    for (const spec of group.weights) {
      const n = spec.shape.reduce((a, d) => a * d, 1);
      const q = spec.quantization;
      const size = BYTES[q ? q.dtype : spec.dtype]!;
      if (at + n * size > weightData.byteLength) {
        throw new Error(`${source}: weight data ends (${weightData.byteLength} bytes) inside "${spec.name}" (needs bytes ${at}..${at + n * size})`);
      }
      if (out.has(spec.name)) throw new Error(`${source}: weight "${spec.name}" is listed twice`);
      const data = new Float32Array(n);
      if (q?.dtype === 'uint8') for (let i = 0; i < n; i++) data[i] = dv.getUint8(at + i) * q.scale! + q.min!;
      else if (q?.dtype === 'uint16') for (let i = 0; i < n; i++) data[i] = dv.getUint16(at + 2 * i, true) * q.scale! + q.min!;
      else if (q?.dtype === 'float16') for (let i = 0; i < n; i++) data[i] = halfToFloat(dv.getUint16(at + 2 * i, true));
      else if (spec.dtype === 'float32') for (let i = 0; i < n; i++) data[i] = dv.getFloat32(at + 4 * i, true);
      else if (spec.dtype === 'int32') for (let i = 0; i < n; i++) data[i] = dv.getInt32(at + 4 * i, true);
      else for (let i = 0; i < n; i++) data[i] = dv.getUint8(at + i);
      out.set(spec.name, { shape: [...spec.shape], data });
      at += n * size;
    }
  }
  if (at !== weightData.byteLength) throw new Error(`${source}: ${weightData.byteLength - at} bytes of weight data left over after the last weight`);
  return out;
}

/** Keras weights -> parameters named and laid out as PyTorch would (then renamed per `options`). */
export function weightsFromTfjsLayers(model: TfjsModelJson, weightData: Uint8Array, source: string, options: ImportOptions = {}): WeightMap {
  const collector = new WeightCollector(source, options);
  for (const [name, t] of decodeTfjsWeights(model, weightData, source)) {
    collector.add(kerasToTorchName(name), () => kerasToTorchTensor(name, t.shape, t.data));
  }
  return collector.weights;
}

/** Every shard of every group, concatenated in manifest order, read relative to model.json. */
export async function readTfjsShards(model: TfjsModelJson, modelJsonPath: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const group of model.weightsManifest) {
    for (const p of group.paths) {
      const file = resolve(dirname(modelJsonPath), p);
      try {
        parts.push(await readFile(file));
      } catch (e) {
        throw new Error(`cannot read weight shard ${file} (listed in ${modelJsonPath}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Reads a tfjs layers model.json (checked) and the weight shards it lists. */
export async function readTfjsLayersFiles(modelJsonPath: string): Promise<{ model: TfjsModelJson; weightData: Uint8Array }> {
  let text: string;
  try {
    text = await readFile(modelJsonPath, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${modelJsonPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${modelJsonPath}: not valid JSON (${(e as Error).message})`);
  }
  const model = checkTfjsModelJson(json, modelJsonPath);
  return { model, weightData: await readTfjsShards(model, modelJsonPath) };
}

/** Reads a tfjs layers model (model.json and the shards it lists) and returns its weights. */
export async function importTfjsLayers(modelJsonPath: string, options: ImportOptions = {}): Promise<WeightMap> {
  const { model, weightData } = await readTfjsLayersFiles(modelJsonPath);
  return weightsFromTfjsLayers(model, weightData, modelJsonPath, options);
}
