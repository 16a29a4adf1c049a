/**
 * Graph -> ONNX model (opset 18). Inputs become graph inputs; bound params become initializers and
 * unbound ones graph inputs; consts become initializers; outputs keep their graph names.
 */
import {
  describeNode,
  formatShape,
  prune,
  shapesEqual,
  writeFileAtomic,
  type AnyOpNode,
  type DType,
  type Graph,
  type Node,
  type OpName,
  type TensorData,
} from '@unias/graph';
import { batchAxes } from './batch-axis.js';
import type { Lowering, LoweringContext } from './lowering-context.js';
import { LOWERINGS } from './lowering.js';
import { attr, dataTypeOf, OnnxGraphWriter, typedArray } from './onnx-writer.js';
import { onnx, type ModelProto, type ValueInfoProto } from './proto.js';

export const OPSET = 18;
export const PRODUCER_NAME = 'unias.ts';
export const PRODUCER_VERSION = '0.1.0';
/** The symbolic batch dimension's name in `dynamicBatch` models. */
export const BATCH_DIM = 'N';

export interface OnnxExportOptions {
  /** Parameter values written into the model as initializers; other params become graph inputs. */
  readonly params?: ReadonlyMap<string, TensorData>;
  /** Outputs to keep (default: every graph output); the graph is pruned to what they need. */
  readonly outputs?: readonly string[];
  /** Dim 0 of every input (and the batch dim of every output) becomes the symbolic `N`. */
  readonly dynamicBatch?: boolean;
  /** Written to the model's metadata_props. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly docString?: string;
  /** The ONNX graph's name (default "unias"). */
  readonly graphName?: string;
  /**
   * onnxruntime's NCHWc channel block on this processor: convolutions whose weights are not
   * constants and that its blocked kernels run faster (blocked-conv.ts) are written in its
   * `com.microsoft.nchwc` ops. Only for sessions of onnxruntime's CPU provider (@unias/backend-onnx
   * probes the block); a model written with it runs nowhere else.
   */
  readonly nchwcBlock?: number;
}

/** A graph input or output of the lowered model. */
export interface IoSpec {
  readonly name: string;
  readonly dtype: DType;
  /** Static shape (as built). */
  readonly shape: readonly number[];
  /** The axis declared as `N` (with `dynamicBatch`), else null. */
  readonly batchAxis: number | null;
}

export interface LoweredModel {
  readonly model: ModelProto;
  /** Graph inputs in order: graph inputs, then unbound params. */
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
}

function valueInfo(io: IoSpec): ValueInfoProto {
  return {
    name: io.name,
    type: {
      tensorType: {
        elemType: dataTypeOf(io.dtype),
        shape: { dim: io.shape.map((d, i) => (i === io.batchAxis ? { dimParam: BATCH_DIM } : { dimValue: d })) },
      },
    },
  };
}

function nodeBase(n: AnyOpNode): string {
  return `${n.scope ? `${n.scope}/` : ''}${n.op}_${n.id}`;
}

function checkBoundParam(name: string, node: Node, value: TensorData): void {
  if (value.dtype !== node.dtype || !shapesEqual(value.shape, node.shape)) {
    throw new Error(`param "${name}": bound value is ${value.dtype} ${formatShape(value.shape)}, the graph wants ${node.dtype} ${formatShape(node.shape)}`);
  }
  const expected = value.shape.reduce((p, d) => p * d, 1);
  if (value.data.length !== expected) {
    throw new Error(`param "${name}": ${value.data.length} values do not fill ${formatShape(value.shape)}`);
  }
}

/** Lowers a graph to an ONNX ModelProto (not yet encoded), with its input and output specs. */
export function lowerGraph(graph: Graph, options: OnnxExportOptions = {}): LoweredModel {
  const g = prune(graph, options.outputs);
  const dynamic = options.dynamicBatch ?? false;
  const axes = dynamic ? batchAxes(g) : new Map<number, number | null>();
  const axisOf = (n: Node) => (dynamic ? (axes.get(n.id) ?? null) : null);
  const w = new OnnxGraphWriter();
  const values = new Map<number, string>();
  const inputs: IoSpec[] = [];

  // Names fixed by the graph come first, so intermediate names can never take them.
  for (const inp of g.inputs.values()) w.claim(inp.name);
  for (const p of g.params.values()) w.claim(p.name);
  const outputTarget = new Map<number, string>();
  for (const [name, n] of g.outputs) {
    const own = n.kind === 'input' || n.kind === 'param' ? n.name : undefined;
    if (own === name) continue;
    if (w.isTaken(name)) throw new Error(`output "${name}" has the name of an input or param of the graph; rename one of them`);
    w.claim(name);
    if (n.kind === 'op' && !outputTarget.has(n.id)) outputTarget.set(n.id, name);
  }

  for (const inp of g.inputs.values()) {
    values.set(inp.id, inp.name);
    inputs.push({ name: inp.name, dtype: inp.dtype, shape: inp.shape, batchAxis: dynamic && inp.shape.length > 0 ? 0 : null });
  }
  for (const p of g.params.values()) {
    values.set(p.id, p.name);
    const bound = options.params?.get(p.name);
    if (bound) {
      checkBoundParam(p.name, p, bound);
      w.initializer(p.name, dataTypeOf(p.dtype), p.shape, bound.data);
    } else {
      inputs.push({ name: p.name, dtype: p.dtype, shape: p.shape, batchAxis: null });
    }
  }

  if (options.nchwcBlock !== undefined && !(Number.isInteger(options.nchwcBlock) && options.nchwcBlock >= 4 && options.nchwcBlock % 4 === 0)) {
    throw new Error(`nchwcBlock must be a positive multiple of 4 (onnxruntime's NCHWc block), got ${options.nchwcBlock}`);
  }
  const domains = new Set<string>();
  let batchSize: string | undefined;
  const firstBatched = [...g.inputs.values()].find((i) => i.shape.length > 0);
  let current: AnyOpNode | undefined;
  let step = 0;
  const ctx: LoweringContext = {
    input: (i) => values.get(current!.inputs[i]!.id)!,
    emit: (opType, ins, attrs) => ctx.emitIn('', opType, ins, attrs),
    result: (opType, ins, attrs) => ctx.resultIn('', opType, ins, attrs),
    resultIn: (domain, opType, ins, attrs) => {
      if (domain) domains.add(domain);
      const base = nodeBase(current!);
      const name = outputTarget.get(current!.id) ?? w.fresh(base);
      w.node(opType, ins, [name], attrs, base, domain);
      return name;
    },
    emitIn: (domain, opType, ins, attrs) => {
      if (domain) domains.add(domain);
      const name = w.fresh(`${nodeBase(current!)}/${opType}_${step++}`);
      w.node(opType, ins, [name], attrs, name, domain);
      return name;
    },
    nchwcBlock: options.nchwcBlock,
    isConstant: (n) => n.kind === 'const' || (n.kind === 'param' && options.params?.has(n.name) === true),
    int64: (v, shape) => w.int64(v, shape),
    scalar: (v, dtype) => w.scalar(v, dtype),
    filled: (v, shape) => w.filled(v, shape),
    float32: (data, shape, hint) => w.float32(data, shape, hint),
    dynamicBatch: dynamic,
    batchAxis: axisOf,
    batchSize: () => {
      if (!firstBatched) throw new Error('dynamicBatch: the graph has no input to take the batch size from');
      batchSize ??= (() => {
        const name = w.fresh('batch_size');
        w.node('Shape', [firstBatched.name], [name], { start: attr.int(0), end: attr.int(1) }, name);
        return name;
      })();
      return batchSize;
    },
  };

  for (const n of g.nodes) {
    if (n.kind === 'const') {
      const name = w.fresh(`const_${n.id}`);
      w.initializer(name, dataTypeOf(n.dtype), n.shape, typedArray(n.dtype, n.data));
      values.set(n.id, name);
    } else if (n.kind === 'op') {
      current = n;
      step = 0;
      const rule = LOWERINGS[n.op] as Lowering<OpName>;
      try {
        values.set(n.id, rule(ctx, n));
      } catch (e) {
        throw new Error(`cannot lower ${describeNode(n)}: ${(e as Error).message}`);
      }
    }
  }

  const outputs: IoSpec[] = [];
  for (const [name, n] of g.outputs) {
    const v = values.get(n.id)!;
    if (v !== name) w.node('Identity', [v], [name], {}, `output/${name}`);
    outputs.push({ name, dtype: n.dtype, shape: n.shape, batchAxis: axisOf(n) });
  }

  const model: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    ...(options.docString ? { docString: options.docString } : {}),
    graph: {
      name: options.graphName ?? 'unias',
      node: w.nodes,
      initializer: w.initializers,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    },
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  return { model, inputs, outputs };
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** The graph as ONNX model bytes. */
export function toOnnxModel(graph: Graph, options: OnnxExportOptions = {}): Uint8Array {
  return encodeModel(lowerGraph(graph, options).model);
}

/** Writes the graph as an .onnx file, atomically (readers see the old file or the new one). */
export async function writeOnnxFile(path: string, graph: Graph, options: OnnxExportOptions = {}): Promise<void> {
  await writeFileAtomic(path, toOnnxModel(graph, options));
}
