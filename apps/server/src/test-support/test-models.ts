/**
 * Small ONNX models that follow docs/exported-model.md, written with onnx-proto, for tests and the
 * bench (the real exporter is another package). Not part of the public API.
 *
 * - `anomalyTestModel`: anomaly_map = mean over channels of |image - 0.5|, score = max of the map.
 *   Its closed form (`referenceAnomalyMap`) is the independent truth the tests compare against.
 * - `convCostModel`: a stack of 3x3 convolutions with fixed pseudo-random weights, to give the bench a
 *   model whose run costs about what a small UniAS preset costs.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNamespace } from 'onnx-proto';

const onnx = onnxProto.onnx;
const FLOAT = 1;
const INT64 = 7;

export interface TestModelOptions {
  readonly height: number;
  readonly width: number;
  /** `metadata_props`; defaults to the contract keys with thresholds. Pass `{}` for none. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** When false, N is fixed to 1 (a model that cannot be batched). Default true. */
  readonly dynamicBatch?: boolean;
}

export const DEFAULT_TEST_THRESHOLDS = { image: 0.3, pixel: 0.25 } as const;

export function contractMetadata(
  height: number,
  width: number,
  thresholds: { image?: number; pixel?: number } = DEFAULT_TEST_THRESHOLDS,
): Record<string, string> {
  const m: Record<string, string> = {
    'unias.format': '1',
    'unias.input_size': `${height},${width}`,
    'unias.preset': 'test',
    'unias.backbone': 'none',
    'unias.classes': 'synthetic',
  };
  if (thresholds.image !== undefined) m['unias.threshold.image'] = String(thresholds.image);
  if (thresholds.pixel !== undefined) m['unias.threshold.pixel'] = String(thresholds.pixel);
  if (thresholds.image !== undefined || thresholds.pixel !== undefined) {
    m['unias.threshold.source'] = 'fixed for tests';
  }
  return m;
}

type Dim = number | string;

function valueInfo(name: string, dims: readonly Dim[]): OnnxNamespace.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function ints(name: string, values: readonly number[]): OnnxNamespace.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] };
}

function int(name: string, value: number): OnnxNamespace.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function floatTensor(name: string, dims: readonly number[], data: Float32Array): OnnxNamespace.ITensorProto {
  return { name, dataType: FLOAT, dims: [...dims], rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function encodeModel(
  graph: OnnxNamespace.IGraphProto,
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'unias-server-tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Appends Abs-free tail: anomaly_map [N,1,H,W] -> score [N] = ReduceMax over (1,2,3). */
function scoreNode(): OnnxNamespace.INodeProto {
  return { opType: 'ReduceMax', input: ['anomaly_map'], output: ['score'], attribute: [ints('axes', [1, 2, 3]), int('keepdims', 0)] };
}

export function anomalyTestModel(options: TestModelOptions): Uint8Array {
  const { height: H, width: W } = options;
  const n: Dim = options.dynamicBatch === false ? 1 : 'N';
  const graph: OnnxNamespace.IGraphProto = {
    name: 'anomaly_test',
    input: [valueInfo('image', [n, 3, H, W])],
    output: [valueInfo('anomaly_map', [n, 1, H, W]), valueInfo('score', [n])],
    initializer: [floatTensor('half', [], new Float32Array([0.5]))],
    node: [
      { opType: 'Sub', input: ['image', 'half'], output: ['centred'] },
      { opType: 'Abs', input: ['centred'], output: ['dev'] },
      { opType: 'ReduceMean', input: ['dev'], output: ['anomaly_map'], attribute: [ints('axes', [1]), int('keepdims', 1)] },
      scoreNode(),
    ],
  };
  return encodeModel(graph, options.metadata ?? contractMetadata(H, W));
}

/** The closed form of `anomalyTestModel` in float64: map [N,1,H,W] and score [N]. */
export function referenceAnomalyMap(
  image: ArrayLike<number>,
  n: number,
  height: number,
  width: number,
): { map: Float64Array; score: Float64Array } {
  const plane = height * width;
  const map = new Float64Array(n * plane);
  const score = new Float64Array(n).fill(-Infinity);
  for (let b = 0; b < n; b++) {
    for (let p = 0; p < plane; p++) {
      let s = 0;
      for (let c = 0; c < 3; c++) s += Math.abs(image[(b * 3 + c) * plane + p]! - 0.5);
      const v = s / 3;
      map[b * plane + p] = v;
      if (v > score[b]!) score[b] = v;
    }
  }
  return { map, score };
}

export interface ConvCostModelOptions extends TestModelOptions {
  /** Channels of the hidden convolutions. Default 32. */
  readonly channels?: number;
  /** Hidden 3x3 convolutions (C -> C). Default 3. */
  readonly layers?: number;
}

/** Multiply-adds x 2 of one `convCostModel` forward at batch 1 (for the bench's report). */
export function convCostModelFlops(o: ConvCostModelOptions): number {
  const c = o.channels ?? 32;
  const layers = o.layers ?? 3;
  const hw = o.height * o.width;
  return 2 * hw * (9 * 3 * c + layers * 9 * c * c + c);
}

function pseudoRandom(count: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function convCostModel(options: ConvCostModelOptions): Uint8Array {
  const { height: H, width: W } = options;
  const c = options.channels ?? 32;
  const layers = options.layers ?? 3;
  const n: Dim = options.dynamicBatch === false ? 1 : 'N';
  const initializer: OnnxNamespace.ITensorProto[] = [];
  const node: OnnxNamespace.INodeProto[] = [];
  const conv = (input: string, output: string, cin: number, cout: number, k: number, seed: number): void => {
    const w = `w${seed}`;
    const b = `b${seed}`;
    initializer.push(floatTensor(w, [cout, cin, k, k], pseudoRandom(cout * cin * k * k, seed, Math.sqrt(3 / (cin * k * k)))));
    initializer.push(floatTensor(b, [cout], pseudoRandom(cout, seed + 1000, 0.01)));
    const pad = (k - 1) / 2;
    node.push({ opType: 'Conv', input: [input, w, b], output: [output], attribute: [ints('pads', [pad, pad, pad, pad])] });
  };
  conv('image', 'h0', 3, c, 3, 1);
  node.push({ opType: 'Relu', input: ['h0'], output: ['a0'] });
  for (let l = 1; l <= layers; l++) {
    conv(`a${l - 1}`, `h${l}`, c, c, 3, l + 1);
    node.push({ opType: 'Relu', input: [`h${l}`], output: [`a${l}`] });
  }
  conv(`a${layers}`, 'head', c, 1, 1, layers + 2);
  node.push({ opType: 'Abs', input: ['head'], output: ['anomaly_map'] });
  node.push(scoreNode());
  const graph: OnnxNamespace.IGraphProto = {
    name: 'conv_cost',
    input: [valueInfo('image', [n, 3, H, W])],
    output: [valueInfo('anomaly_map', [n, 1, H, W]), valueInfo('score', [n])],
    initializer,
    node,
  };
  return encodeModel(graph, options.metadata ?? contractMetadata(H, W));
}

/** A model outside the contract (two inputs, an INT64 output), to test the generic v2 path. */
export function addTestModel(): Uint8Array {
  const graph: OnnxNamespace.IGraphProto = {
    name: 'add',
    input: [valueInfo('a', ['N', 4]), valueInfo('b', ['N', 4])],
    output: [
      valueInfo('sum', ['N', 4]),
      { name: 'argmax', type: { tensorType: { elemType: INT64, shape: { dim: [{ dimParam: 'N' }, { dimValue: 1 }] } } } },
    ],
    node: [
      { opType: 'Add', input: ['a', 'b'], output: ['sum'] },
      { opType: 'ArgMax', input: ['sum'], output: ['argmax'], attribute: [int('axis', 1), int('keepdims', 1)] },
    ],
  };
  return encodeModel(graph, {});
}
