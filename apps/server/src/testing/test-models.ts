/**
 * Small ONNX models for tests and the bench (the real UniAS exporter is another package).
 *
 * The contract models (docs/exported-model.md) are written the way real exports are: built with
 * `@unias/graph` and lowered by `@unias/backend-onnx`'s `toOnnxModel` (dynamic batch, metadata_props).
 * - `anomalyTestModel`: anomaly_map = mean over channels of |image - 0.5|, score = max of the map.
 *   Its closed form (`referenceAnomalyMap`) is the independent truth the tests compare against.
 * - `convCostModel`: a stack of 3x3 convolutions with seeded weights, to give the bench a model whose
 *   run costs about what a small UniAS preset costs.
 * `addTestModel` is written with onnx-proto directly: a model from outside this project (two inputs,
 * an INT64 output) for the generic v2 path. Not part of the public API.
 */
import { toOnnxModel } from '@unias/backend-onnx';
import { EXPORT_FORMAT_VERSION, METADATA_KEYS } from '@unias/exporters/contract';
import { createGraph, initParams, type GraphBuilder, type Sym } from '@unias/graph';
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
  const k = METADATA_KEYS;
  const m: Record<string, string> = {
    [k.format]: String(EXPORT_FORMAT_VERSION),
    [k.inputSize]: `${height},${width}`,
    [k.preset]: 'test',
    [k.backbone]: 'none',
    [k.classes]: 'synthetic',
  };
  if (thresholds.image !== undefined) m[k.thresholdImage] = String(thresholds.image);
  if (thresholds.pixel !== undefined) m[k.thresholdPixel] = String(thresholds.pixel);
  if (thresholds.image !== undefined || thresholds.pixel !== undefined) {
    m[k.thresholdSource] = 'fixed for tests';
  }
  return m;
}

type Dim = number | string;

function valueInfo(name: string, dims: readonly Dim[], elemType = FLOAT): OnnxNamespace.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** The contract's tail: anomaly_map [N,1,H,W] and score [N] = its max. */
function contractOutputs(b: GraphBuilder, map: Sym): void {
  b.output('anomaly_map', map);
  b.output('score', b.max(map, [1, 2, 3]));
}

export function anomalyTestModel(options: TestModelOptions): Uint8Array {
  const { height: H, width: W } = options;
  const b = createGraph();
  const image = b.input('image', [1, 3, H, W]);
  contractOutputs(b, b.mean(b.abs(b.sub(image, 0.5)), [1], true));
  return toOnnxModel(b.build(), {
    dynamicBatch: options.dynamicBatch !== false,
    metadata: options.metadata ?? contractMetadata(H, W),
    graphName: 'anomaly_test',
  });
}

/** The closed form of `anomalyTestModel` in float64: map [N,1,H,W] and score [N]. */
export function referenceAnomalyMap(image: ArrayLike<number>, n: number, height: number, width: number): { map: Float64Array; score: Float64Array } {
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

export function convCostModel(options: ConvCostModelOptions): Uint8Array {
  const { height: H, width: W } = options;
  const c = options.channels ?? 32;
  const layers = options.layers ?? 3;
  const b = createGraph();
  const init = { kind: 'kaimingUniform', a: Math.sqrt(5) } as const;
  const conv = (x: Sym, name: string, cin: number, cout: number, k: number): Sym =>
    b.conv2d(x, b.param(`${name}.weight`, [cout, cin, k, k], init), b.param(`${name}.bias`, [cout], { kind: 'uniform', low: -0.01, high: 0.01 }), {
      padding: (k - 1) / 2,
    });
  let h = b.relu(conv(b.input('image', [1, 3, H, W]), 'stem', 3, c, 3));
  for (let l = 1; l <= layers; l++) h = b.relu(conv(h, `layer${l}`, c, c, 3));
  contractOutputs(b, b.abs(conv(h, 'head', c, 1, 1)));
  const graph = b.build();
  return toOnnxModel(graph, {
    params: initParams(graph, 0),
    dynamicBatch: options.dynamicBatch !== false,
    metadata: options.metadata ?? contractMetadata(H, W),
    graphName: 'conv_cost',
  });
}

function int(name: string, value: number): OnnxNamespace.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

/** A model outside the contract (two inputs, an INT64 output), to test the generic v2 path. */
export function addTestModel(): Uint8Array {
  const graph: OnnxNamespace.IGraphProto = {
    name: 'add',
    input: [valueInfo('a', ['N', 4]), valueInfo('b', ['N', 4])],
    output: [valueInfo('sum', ['N', 4]), valueInfo('argmax', ['N', 1], INT64)],
    node: [
      { opType: 'Add', input: ['a', 'b'], output: ['sum'] },
      { opType: 'ArgMax', input: ['sum'], output: ['argmax'], attribute: [int('axis', 1), int('keepdims', 1)] },
    ],
  };
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'unias-server-tests', opsetImport: [{ domain: '', version: 17 }], graph });
  return onnx.ModelProto.encode(model).finish();
}
