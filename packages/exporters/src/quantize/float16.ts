/**
 * `--precision fp16`: the weights stored as float16, each behind a Cast to float32, so the file is
 * about half the size and every execution provider runs it. The arithmetic stays float32:
 * onnxruntime's CPU provider has float16 kernels for few of the pipeline's ops (it would insert a
 * cast around nearly every node), and folds these Casts into float32 weights when a session starts,
 * so CPU speed is that of float32 and the error is the weights' float16 rounding (relative 2^-11).
 */
import { floatToHalf } from '@unias/graph';
import { DT, dimsOf, floatValues, intAttribute, makeTensor, type GraphProto, type NodeProto, type TensorProto } from './onnx-tensors.js';

/** Tensors smaller than this stay float32 (epsilons, scales, clip bounds: nothing to save). */
const MIN_ELEMENTS = 16;
const FLOAT16_MAX = 65504;

export interface Float16Summary {
  /** Initializers stored as float16. */
  readonly converted: number;
  /** Float initializers kept float32: small ones, and any with a value past float16's range. */
  readonly kept: number;
}

/** Stores the float32 weights of `g` as float16 behind Casts (in place). */
export function storeWeightsAsFloat16(g: GraphProto): Float16Summary {
  const casts: NodeProto[] = [];
  const out: TensorProto[] = [];
  let converted = 0;
  let kept = 0;
  for (const t of g.initializer ?? []) {
    if (t.dataType !== DT.FLOAT) {
      out.push(t);
      continue;
    }
    const values = floatValues(t);
    if (values.length < MIN_ELEMENTS || values.some((v) => !(Math.abs(v) <= FLOAT16_MAX))) {
      out.push(t);
      kept++;
      continue;
    }
    const bits = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) bits[i] = floatToHalf(values[i]!);
    const name = t.name ?? '';
    out.push(makeTensor(`${name}/fp16`, DT.FLOAT16, dimsOf(t), bits));
    casts.push({ opType: 'Cast', name: `${name}/to_float32`, input: [`${name}/fp16`], output: [name], attribute: [intAttribute('to', DT.FLOAT)] });
    converted++;
  }
  g.initializer = out;
  g.node = [...casts, ...(g.node ?? [])];
  return { converted, kept };
}
