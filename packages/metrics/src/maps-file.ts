/**
 * Metrics of any model's maps from a safetensors file holding, per class, `<class>.pred` (float32
 * N x H x W, or N x 1 x H x W) and `<class>.mask` (uint8 or bool, same shape, values 0/1): the layout
 * of the golden reference file. Every tensor must pair up; anything else is an error naming it.
 */
import { endianness } from 'node:os';
import { entryToFloat32, readSafetensorsFile, type SafetensorsEntry, type SafetensorsFile } from '@unias/graph';
import { createMetricsAccumulator } from './metrics-accumulator.js';
import { MetricsInputError } from './errors.js';
import type { MetricsOptions, MetricsReport } from './report-types.js';

export interface EvaluateMapsOptions extends MetricsOptions {
  /** Progress: called before each class's images are added and before it is computed. */
  readonly onProgress?: (event: { readonly className: string; readonly phase: 'add' | 'compute'; readonly index: number; readonly total: number }) => void;
}

interface ClassTensors {
  pred?: SafetensorsEntry;
  mask?: SafetensorsEntry;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** float32 values of a pred tensor, a zero-copy view where alignment and byte order allow. */
function predValues(entry: SafetensorsEntry, where: string): Float32Array {
  if (entry.dtype === 'F32') {
    if (endianness() === 'LE') {
      const bytes = entry.bytes.byteOffset % 4 === 0 ? entry.bytes : entry.bytes.slice();
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    }
    return entryToFloat32(entry);
  }
  if (entry.dtype === 'F16' || entry.dtype === 'BF16') return entryToFloat32(entry);
  throw new MetricsInputError(`${where}: dtype ${entry.dtype} is not supported for maps; store them as F32 (or F16/BF16)`);
}

function maskValues(entry: SafetensorsEntry, where: string): Uint8Array {
  if (entry.dtype === 'U8' || entry.dtype === 'BOOL') return entry.bytes;
  throw new MetricsInputError(`${where}: dtype ${entry.dtype} is not supported for masks; store them as U8 (or BOOL) with values 0 and 1`);
}

/** [N, H, W] of a map tensor: rank 3, or rank 4 with one channel. */
function imageDims(entry: SafetensorsEntry, where: string): [number, number, number] {
  const s = entry.shape;
  if (s.length === 3) return [s[0]!, s[1]!, s[2]!];
  if (s.length === 4 && s[1] === 1) return [s[0]!, s[2]!, s[3]!];
  throw new MetricsInputError(`${where}: shape ${shapeText(s)} is not N x H x W (or N x 1 x H x W)`);
}

export function evaluateMaps(file: SafetensorsFile, options: EvaluateMapsOptions = {}, source = 'maps'): MetricsReport {
  const classes = new Map<string, ClassTensors>();
  for (const [name, entry] of file.tensors) {
    const dot = name.lastIndexOf('.');
    const kind = dot > 0 ? name.slice(dot + 1) : '';
    if (kind !== 'pred' && kind !== 'mask') {
      throw new MetricsInputError(`${source}: tensor "${name}" is neither "<class>.pred" nor "<class>.mask"`);
    }
    const className = name.slice(0, dot);
    const entryOf = classes.get(className) ?? {};
    entryOf[kind] = entry;
    classes.set(className, entryOf);
  }
  if (classes.size === 0) throw new MetricsInputError(`${source}: no "<class>.pred" / "<class>.mask" tensors`);

  const acc = createMetricsAccumulator(options);
  let index = 0;
  for (const [className, { pred, mask }] of classes) {
    const predName = `${source}: tensor "${className}.pred"`;
    const maskName = `${source}: tensor "${className}.mask"`;
    if (pred === undefined) throw new MetricsInputError(`${maskName} has no matching "${className}.pred"`);
    if (mask === undefined) throw new MetricsInputError(`${predName} has no matching "${className}.mask"`);
    const [n, h, w] = imageDims(pred, predName);
    if (mask.shape.length !== pred.shape.length || mask.shape.some((d, i) => d !== pred.shape[i])) {
      throw new MetricsInputError(`${maskName} has shape ${shapeText(mask.shape)} but "${className}.pred" has ${shapeText(pred.shape)}`);
    }
    if (n < 1 || h < 1 || w < 1) throw new MetricsInputError(`${predName}: shape ${shapeText(pred.shape)} holds no image`);
    options.onProgress?.({ className, phase: 'add', index, total: classes.size });
    const scores = predValues(pred, predName);
    const labels = maskValues(mask, maskName);
    const hw = h * w;
    for (let i = 0; i < n; i++) {
      acc.add(
        className,
        { scores: scores.subarray(i * hw, (i + 1) * hw), mask: labels.subarray(i * hw, (i + 1) * hw), height: h, width: w },
        { scores: `${predName} image ${i}`, mask: `${maskName} image ${i}` },
      );
    }
    index++;
  }
  return acc.compute((className, i, total) => options.onProgress?.({ className, phase: 'compute', index: i, total }));
}

/** Reads a safetensors maps file and evaluates it (see `evaluateMaps`). */
export async function evaluateMapsFile(path: string, options: EvaluateMapsOptions = {}): Promise<MetricsReport> {
  const file = await readSafetensorsFile(path);
  return evaluateMaps(file, options, path);
}
