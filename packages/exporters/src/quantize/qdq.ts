/**
 * Static QDQ quantisation of a float ONNX graph: QuantizeLinear/DequantizeLinear pairs around the
 * inputs and outputs of Conv and MatMul, int8 weights, int32 biases. onnxruntime's QDQ fusion turns
 * each DequantizeLinear -> Conv/MatMul -> QuantizeLinear group into QLinearConv / QLinearMatMul
 * (u8s8 integer kernels, VNNI/AMX where the CPU has them); the other ops stay float between a DQ and a Q.
 *
 * Choices (those of onnxruntime's own QDQ quantiser, for which its fusions are written):
 * - activations: per-tensor uint8, asymmetric: scale = (max - min) / 255 over [min(0, lo), max(0, hi)],
 *   so that 0 is exact (padding, ReLU);
 * - Conv weights: per output channel int8, symmetric (zero point 0), scale = max|w| / 127;
 * - MatMul weights: per-tensor int8, symmetric (onnxruntime's QLinearMatMul takes one scale for B);
 * - Conv bias: int32 with scale = input scale x weight scale per channel, zero point 0 (what QLinearConv expects).
 */
import { ExportError } from '../errors.js';
import type { TensorRange } from './calibrate.js';
import { dropUnusedInitializers } from './fold.js';
import { DT, dimsOf, floatValues, intAttribute, makeTensor, type GraphProto, type NodeProto, type TensorProto } from './onnx-tensors.js';

export interface QuantParams {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** uint8 asymmetric parameters for a calibrated range (0 always representable). */
export function activationParams(r: TensorRange): QuantParams {
  const lo = Math.min(0, r.min);
  const hi = Math.max(0, r.max);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

/** Symmetric int8 scale of a weight block (max |w| / 127; 1 for an all-zero block). */
export function weightScale(values: Float32Array, start = 0, end = values.length): number {
  let m = 0;
  for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i]!));
  return Math.fround(m > 0 ? m / 127 : 1);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A node the quantiser rewrites, with the tensor names it needs ranges for. */
interface Target {
  readonly node: NodeProto;
  readonly activations: readonly string[];
  /** Index of the weight input (an initializer), if any. */
  readonly weight?: number;
}

/** Node-name prefixes (graph scopes, e.g. "sem_seg_head.predictor") whose nodes stay float. */
export type KeepFloat = readonly string[];

function targetsOf(g: GraphProto, keepFloat: KeepFloat = []): Target[] {
  const inits = new Set((g.initializer ?? []).filter((t) => t.dataType === DT.FLOAT).map((t) => t.name ?? ''));
  const anyInit = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const readers = new Map<string, NodeProto[]>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) readers.set(i, [...(readers.get(i) ?? []), n]);
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name ?? ''));
  // A Conv/MatMul read only by a Relu or Clip is quantised after the activation: its range is then
  // that of the clipped values (a dead channel's large pre-activation no longer widens the step of
  // all others, which ruined MobileNetV2's first block), and onnxruntime drops the Relu/Clip into
  // the QuantizeLinear's saturation, so Conv -> Q still fuses.
  const outputOf = (n: NodeProto): string => {
    const o = n.output![0]!;
    const r = readers.get(o) ?? [];
    const act = r.length === 1 && !graphOutputs.has(o) && (r[0]!.opType === 'Relu' || r[0]!.opType === 'Clip') ? r[0]! : undefined;
    return act ? act.output![0]! : o;
  };
  const out: Target[] = [];
  for (const n of g.node ?? []) {
    const inputs = n.input ?? [];
    if (keepFloat.some((p) => (n.name ?? '').startsWith(p))) continue;
    if (n.opType === 'Conv') {
      // a Conv whose weight is computed at run time is left float
      if (!inits.has(inputs[1] ?? '') || anyInit.has(inputs[0] ?? '') || (inputs[2] && !inits.has(inputs[2]))) continue;
      out.push({ node: n, activations: [inputs[0]!, outputOf(n)], weight: 1 });
    } else if (n.opType === 'MatMul') {
      // a constant first operand (learned queries) is left float: QLinearMatMul wants A as uint8 activation
      if (anyInit.has(inputs[0] ?? '')) continue;
      if (inits.has(inputs[1] ?? '')) out.push({ node: n, activations: [inputs[0]!, outputOf(n)], weight: 1 });
      else if (!anyInit.has(inputs[1] ?? '')) out.push({ node: n, activations: [inputs[0]!, inputs[1]!, outputOf(n)] });
    }
  }
  return out;
}

/** The activation tensors whose ranges `insertQdq` needs, in graph order, without repeats. */
export function tensorsToCalibrate(g: GraphProto, keepFloat: KeepFloat = []): string[] {
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name ?? ''));
  return [...new Set(targetsOf(g, keepFloat).flatMap((t) => t.activations))].filter((name) => !graphOutputs.has(name));
}

export interface QdqSummary {
  readonly conv: number;
  readonly matmul: number;
  /** Activation tensors given a QuantizeLinear/DequantizeLinear pair. */
  readonly activations: number;
}

/** Rewrites `g` in place into QDQ form, with `ranges` from `calibrateRanges` over `tensorsToCalibrate(g)`. */
export function insertQdq(g: GraphProto, ranges: ReadonlyMap<string, TensorRange>, keepFloat: KeepFloat = []): QdqSummary {
  const targets = targetsOf(g, keepFloat);
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name ?? ''));
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const params = new Map<string, QuantParams>();
  for (const name of new Set(targets.flatMap((t) => t.activations))) {
    if (graphOutputs.has(name)) continue;
    const r = ranges.get(name);
    if (!r) throw new ExportError(`int8 export: no calibrated range for tensor "${name}"`);
    params.set(name, activationParams(r));
  }
  const added: TensorProto[] = [];
  const weightNodes: NodeProto[] = [];
  const dq = (name: string): string => `${name}/dq`;

  for (const t of targets) {
    if (t.weight === undefined) continue;
    const n = t.node;
    const wName = n.input![t.weight]!;
    const w = inits.get(wName)!;
    const values = floatValues(w);
    const dims = dimsOf(w);
    const perChannel = n.opType === 'Conv';
    const channels = perChannel ? dims[0]! : 1;
    const per = values.length / channels;
    const scales = new Float32Array(channels);
    const q = new Int8Array(values.length);
    for (let c = 0; c < channels; c++) {
      const s = weightScale(values, c * per, (c + 1) * per);
      scales[c] = s;
      for (let k = c * per; k < (c + 1) * per; k++) q[k] = Math.max(-127, Math.min(127, roundHalfEven(values[k]! / s)));
    }
    const base = `${n.output![0]}/w`;
    const sDims = perChannel ? [channels] : [];
    added.push(
      makeTensor(`${base}_quantized`, DT.INT8, dims, q),
      makeTensor(`${base}_scale`, DT.FLOAT, sDims, scales),
      makeTensor(`${base}_zero_point`, DT.INT8, sDims, new Int8Array(channels)),
    );
    weightNodes.push({
      opType: 'DequantizeLinear',
      name: `${base}_dequantize`,
      input: [`${base}_quantized`, `${base}_scale`, `${base}_zero_point`],
      output: [`${base}_dequantized`],
      attribute: perChannel ? [intAttribute('axis', 0)] : [],
    });
    const inputs = [...n.input!];
    inputs[t.weight] = `${base}_dequantized`;
    const biasName = n.opType === 'Conv' ? inputs[2] : undefined;
    if (biasName) {
      const bias = floatValues(inits.get(biasName)!);
      const xScale = params.get(n.input![0]!)!.scale;
      const bScales = new Float32Array(channels);
      const bq = new Int32Array(channels);
      for (let c = 0; c < channels; c++) {
        bScales[c] = Math.fround(xScale * scales[c]!);
        bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(bias[c]! / bScales[c]!)));
      }
      const b = `${n.output![0]}/b`;
      added.push(makeTensor(`${b}_quantized`, DT.INT32, [channels], bq), makeTensor(`${b}_scale`, DT.FLOAT, [channels], bScales));
      weightNodes.push({
        opType: 'DequantizeLinear',
        name: `${b}_dequantize`,
        input: [`${b}_quantized`, `${b}_scale`],
        output: [`${b}_dequantized`],
        attribute: [intAttribute('axis', 0)],
      });
      inputs[2] = `${b}_dequantized`;
    }
    n.input = inputs;
  }

  // One Q/DQ pair per activation, right after its producer; every reader then reads the DQ output
  // (a target's output must feed only its QuantizeLinear for the fusion to apply).
  const pairFor = (name: string): NodeProto[] => {
    const p = params.get(name)!;
    added.push(
      makeTensor(`${name}/scale`, DT.FLOAT, [], new Float32Array([p.scale])),
      makeTensor(`${name}/zero_point`, DT.UINT8, [], new Uint8Array([p.zeroPoint])),
    );
    return [
      { opType: 'QuantizeLinear', name: `${name}/quantize`, input: [name, `${name}/scale`, `${name}/zero_point`], output: [`${name}/q`] },
      { opType: 'DequantizeLinear', name: `${name}/dequantize`, input: [`${name}/q`, `${name}/scale`, `${name}/zero_point`], output: [dq(name)] },
    ];
  };
  const nodes: NodeProto[] = [...weightNodes];
  for (const i of g.input ?? []) if (params.has(i.name ?? '')) nodes.push(...pairFor(i.name ?? ''));
  for (const n of g.node ?? []) {
    n.input = (n.input ?? []).map((i) => (params.has(i) ? dq(i) : i));
    nodes.push(n);
    for (const o of n.output ?? []) if (params.has(o)) nodes.push(...pairFor(o));
  }
  g.node = nodes;
  g.initializer = [...(g.initializer ?? []), ...added];
  dropUnusedInitializers(g);
  return {
    conv: targets.filter((t) => t.node.opType === 'Conv').length,
    matmul: targets.filter((t) => t.node.opType === 'MatMul').length,
    activations: params.size,
  };
}
