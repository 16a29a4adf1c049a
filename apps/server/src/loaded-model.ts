/**
 * Loads one ONNX model into an onnxruntime session and describes it: tensor specs for the v2
 * metadata endpoint, whether its first axis is a batch axis, and the UniAS contract
 * (docs/exported-model.md) that `/predict` needs.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { METADATA_KEYS, metadataInputSize, metadataPrecision, metadataThresholds, type Precision } from '@unias/exporters/contract';
import { preprocessingMismatch } from '@unias/image/contract';
import type * as ort from 'onnxruntime-node';
import { v2DatatypeOf, type V2Datatype } from './datatypes.js';
import { readOnnxMetadataProps } from './onnx-metadata.js';
import { createSupervisedSession, type SupervisedSession, type SupervisorEvent } from './supervised-session.js';
import { createWorkerSession, type ValueMetadata } from './worker-session.js';

export interface TensorSpec {
  readonly name: string;
  readonly datatype: V2Datatype;
  /** -1 for a dynamic dimension (as the v2 protocol writes it). */
  readonly shape: readonly number[];
}

export interface ServedThresholds {
  readonly image: number | null;
  readonly pixel: number | null;
  readonly source: string | null;
}

/** What `/predict` needs from a model that follows docs/exported-model.md. */
export interface UniasContract {
  readonly inputName: string;
  readonly height: number;
  readonly width: number;
  readonly mapOutput: string;
  /** The score output, or null when the score is the map's maximum computed here. */
  readonly scoreOutput: string | null;
  readonly thresholds: ServedThresholds;
  /** The exported pipeline's precision (`unias.precision`: float32, int8, fp16); float32 when not written. */
  readonly precision: Precision;
}

export interface ServedModel {
  readonly name: string;
  readonly version: string;
  /** The file it came from, or `<bytes>`. */
  readonly source: string;
  /** The onnxruntime session, in its own supervised worker process. */
  readonly session: SupervisedSession;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly metadata: Readonly<Record<string, string>>;
  /** True when every input and output has a dynamic first axis, so requests can be stacked. */
  readonly batchable: boolean;
  readonly contract: UniasContract | null;
  /** Why `contract` is null. */
  readonly contractProblem: string | null;
}

/** A model file, or bytes with a name (tests, embedding). */
export type ModelSource = { readonly path: string; readonly name?: string } | { readonly bytes: Uint8Array; readonly name: string };

export interface SessionSettings {
  /** onnxruntime intra-op threads; undefined lets onnxruntime choose (all cores). */
  readonly threads?: number;
  /**
   * Whether onnxruntime's idle threads spin-wait for work (its default). Off here by default: the
   * server's own work (HTTP, JSON, image decoding) shares the cores, and spinning threads starve it.
   */
  readonly spinning?: boolean;
  /** onnxruntime execution providers, best first (default: onnxruntime's, the CPU provider); the worker process opens its session with them. */
  readonly executionProviders?: readonly string[];
  /** The run watchdog: a run still going after this many ms gets its worker killed and restarted. */
  readonly runTimeoutMs?: number;
  /** Told when the model's worker crashes, restarts or cannot be restarted. */
  readonly onWorkerEvent?: (event: SupervisorEvent) => void;
}

/** The onnxruntime session options the server uses (the bench gives a bare session the same). */
export function sessionOptionsFor(settings: SessionSettings = {}): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: settings.spinning === true ? '1' : '0' } } },
  };
  if (settings.threads !== undefined) options.intraOpNumThreads = settings.threads;
  if (settings.executionProviders !== undefined) options.executionProviders = [...settings.executionProviders];
  return options;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function modelNameOf(source: ModelSource): string {
  if (source.name !== undefined) return source.name;
  if ('path' in source) return basename(source.path, extname(source.path));
  throw new Error('a model given as bytes needs a name');
}

function specsOf(metadata: readonly ValueMetadata[], what: string): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) throw new Error(`${what} '${m.name}' is not a tensor; only tensor inputs and outputs are served`);
    const datatype = v2DatatypeOf(m.type);
    if (datatype === undefined) throw new Error(`${what} '${m.name}' has type ${m.type}, which this server does not carry`);
    const shape = m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
    return { name: m.name, datatype, shape };
  });
}

/** Checks the contract; returns it or a reason why the model does not follow it. */
export function readContract(
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
  metadata: Readonly<Record<string, string>>,
): { contract: UniasContract | null; problem: string | null } {
  const fail = (problem: string) => ({ contract: null, problem });
  const input = inputs.find((t) => t.name === 'image') ?? (inputs.length === 1 ? inputs[0] : undefined);
  if (input === undefined || inputs.length !== 1) return fail(`needs one input named 'image', has ${inputs.map((t) => t.name).join(', ')}`);
  if (input.datatype !== 'FP32' || input.shape.length !== 4 || (input.shape[1] !== 3 && input.shape[1] !== -1)) {
    return fail(`input '${input.name}' must be FP32 [N,3,H,W], is ${input.datatype} [${input.shape.join(',')}]`);
  }
  const map = outputs.find((t) => t.name === 'anomaly_map');
  if (map === undefined) return fail(`has no output named 'anomaly_map' (outputs: ${outputs.map((t) => t.name).join(', ')})`);
  if (map.datatype !== 'FP32' || map.shape.length !== 4)
    return fail(`output 'anomaly_map' must be FP32 [N,1,H,W], is ${map.datatype} [${map.shape.join(',')}]`);
  const score = outputs.find((t) => t.name === 'score');
  let height = input.shape[2]!;
  let width = input.shape[3]!;
  // the keys and the parsing of their values are the exported-model contract's (@unias/exporters/contract)
  const size = metadataInputSize(metadata);
  if (size !== undefined) {
    const [h, w] = size;
    if ((height !== -1 && height !== h) || (width !== -1 && width !== w)) {
      throw new Error(
        `metadata ${METADATA_KEYS.inputSize} = "${metadata[METADATA_KEYS.inputSize]}" disagrees with input '${input.name}' [${input.shape.join(',')}]`,
      );
    }
    height = h;
    width = w;
  }
  if (height <= 0 || width <= 0) return fail(`input size unknown: no ${METADATA_KEYS.inputSize} and input '${input.name}' has dynamic H, W`);
  // a model that asks for other preprocessing would get inputs it was not trained on (infer still works)
  const preprocessing = preprocessingMismatch(metadata);
  if (preprocessing !== null) return fail(`${preprocessing}; use infer with your own preprocessing`);
  const thresholds = metadataThresholds(metadata);
  return {
    contract: {
      inputName: input.name,
      height,
      width,
      mapOutput: map.name,
      scoreOutput: score && score.datatype === 'FP32' ? score.name : null,
      thresholds: { image: thresholds.image ?? null, pixel: thresholds.pixel ?? null, source: thresholds.source ?? null },
      precision: metadataPrecision(metadata),
    },
    problem: null,
  };
}

export async function loadModel(source: ModelSource, settings: SessionSettings = {}): Promise<ServedModel> {
  const name = modelNameOf(source);
  const where = 'path' in source ? source.path : '<bytes>';
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`model name '${name}' (from ${where}) must match ${NAME_PATTERN.source}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = 'path' in source ? await readFile(source.path) : source.bytes;
  } catch (e) {
    throw new Error(`cannot read model file ${where}: ${(e as Error).message}`);
  }
  try {
    const metadata = readOnnxMetadataProps(bytes);
    const sessionOptions = sessionOptionsFor(settings);
    const workerOptions = settings.runTimeoutMs !== undefined ? { runTimeoutMs: settings.runTimeoutMs } : {};
    const session = await createSupervisedSession(
      () => createWorkerSession(bytes, sessionOptions, `'${name}'`, workerOptions),
      settings.onWorkerEvent !== undefined ? { onEvent: settings.onWorkerEvent } : {},
    );
    let inputs: TensorSpec[];
    let outputs: TensorSpec[];
    try {
      inputs = specsOf(session.inputMetadata, 'input');
      outputs = specsOf(session.outputMetadata, 'output');
    } catch (e) {
      await session.release();
      throw e;
    }
    const batchable = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
    const { contract, problem } = readContract(inputs, outputs, metadata);
    return {
      name,
      version: '1',
      source: where,
      session,
      inputs,
      outputs,
      metadata,
      batchable,
      contract,
      contractProblem: problem,
    };
  } catch (e) {
    throw new Error(`cannot load model '${name}' from ${where}: ${(e as Error).message}`);
  }
}
