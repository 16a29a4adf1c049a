/**
 * `config.pbtxt` read as Triton reads it: text format against `inference.ModelConfig`
 * (./schema.ts), typed for the fields a server honours. Fields keep their proto names (snake_case);
 * a field that is absent has its proto3 default (0, "", false, the first enum value).
 */
import { readFile } from 'node:fs/promises';
import { loadModelConfigSchema } from './schema.js';
import { parseTextFormat, TextFormatError } from './text-format.js';

export type TritonDataType =
  | 'TYPE_INVALID'
  | 'TYPE_BOOL'
  | 'TYPE_UINT8'
  | 'TYPE_UINT16'
  | 'TYPE_UINT32'
  | 'TYPE_UINT64'
  | 'TYPE_INT8'
  | 'TYPE_INT16'
  | 'TYPE_INT32'
  | 'TYPE_INT64'
  | 'TYPE_FP16'
  | 'TYPE_FP32'
  | 'TYPE_FP64'
  | 'TYPE_STRING'
  | 'TYPE_BF16';

export interface TritonTensorConfig {
  readonly name?: string;
  readonly data_type?: TritonDataType;
  readonly format?: 'FORMAT_NONE' | 'FORMAT_NHWC' | 'FORMAT_NCHW';
  readonly dims?: readonly number[];
  readonly reshape?: { readonly shape?: readonly number[] };
  readonly optional?: boolean;
  readonly is_shape_tensor?: boolean;
  readonly allow_ragged_batch?: boolean;
  readonly label_filename?: string;
}

export interface TritonVersionPolicy {
  readonly latest?: { readonly num_versions?: number };
  readonly all?: Record<string, never>;
  readonly specific?: { readonly versions?: readonly number[] };
}

export interface TritonInstanceGroup {
  readonly name?: string;
  readonly kind?: 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU' | 'KIND_MODEL';
  readonly count?: number;
  readonly gpus?: readonly number[];
}

export interface TritonDynamicBatching {
  readonly preferred_batch_size?: readonly number[];
  readonly max_queue_delay_microseconds?: number;
  readonly preserve_ordering?: boolean;
  readonly [field: string]: unknown;
}

/** A parsed config.pbtxt. Fields not listed here are kept as parsed (`[field]: unknown`). */
export interface TritonModelConfig {
  readonly name?: string;
  readonly platform?: string;
  readonly backend?: string;
  readonly version_policy?: TritonVersionPolicy;
  readonly max_batch_size?: number;
  readonly input?: readonly TritonTensorConfig[];
  readonly output?: readonly TritonTensorConfig[];
  readonly dynamic_batching?: TritonDynamicBatching;
  readonly instance_group?: readonly TritonInstanceGroup[];
  readonly default_model_filename?: string;
  readonly parameters?: Readonly<Record<string, { readonly string_value?: string }>>;
  readonly [field: string]: unknown;
}

export { TextFormatError };

/** Parses config.pbtxt text; `source` (the file) is named in every error with line and column. */
export function parseModelConfig(text: string, source = 'config.pbtxt', protoPath?: string): TritonModelConfig {
  return parseTextFormat(loadModelConfigSchema(protoPath), text, source) as TritonModelConfig;
}

/** Reads and parses a config.pbtxt file. */
export async function readModelConfig(path: string): Promise<TritonModelConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseModelConfig(text, path);
}

/** The binary protobuf encoding of a parsed config (what Triton's C++ side holds). */
export function encodeModelConfig(config: TritonModelConfig, protoPath?: string): Uint8Array {
  const type = loadModelConfigSchema(protoPath);
  return type.encode(type.fromObject(config)).finish();
}
