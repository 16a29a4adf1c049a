/**
 * config.pbtxt against Triton's ModelConfig schema: what our exporter writes parses into the
 * schema with the values it was given; Triton's documented spellings parse; the schema's field
 * numbers give the known wire bytes; and every kind of text that Triton would refuse is refused
 * here with the file, line and column.
 */
import { tritonConfigText } from '@unias/exporters';
import { describe, expect, it } from 'vitest';
import { encodeModelConfig, parseModelConfig, TextFormatError } from './index.js';

const io = (name: string, shape: number[]) => ({ name, dtype: 'float32' as const, shape, batchAxis: 0 });
// The exported pipeline's contract (docs/exported-model.md) at 256x256.
const CONTRACT = { inputs: [io('image', [1, 3, 256, 256])], outputs: [io('anomaly_map', [1, 1, 256, 256]), io('score', [1])] };

describe('our exporter against the schema', () => {
  it('the CPU default config parses into ModelConfig with the values it was given', () => {
    const params = { 'unias.format': '1', 'unias.threshold.source': 'quantile "0.99"\nof normal\ttrain', 'unias.classes': 'bottle,ščíť,瓶' };
    const text = tritonConfigText({ name: 'unias', ...CONTRACT, parameters: params });
    const c = parseModelConfig(text, 'unias/config.pbtxt');
    expect(c).toEqual({
      name: 'unias',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: [{ name: 'image', data_type: 'TYPE_FP32', dims: [3, 256, 256] }],
      output: [
        { name: 'anomaly_map', data_type: 'TYPE_FP32', dims: [1, 256, 256] },
        // [N] is [N, 1] to Triton's API, reshaped to [N] (an empty shape) for the model.
        { name: 'score', data_type: 'TYPE_FP32', dims: [1], reshape: {} },
      ],
      dynamic_batching: { max_queue_delay_microseconds: 100 },
      instance_group: [{ count: 1, kind: 'KIND_CPU' }],
      parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { string_value: v }])),
    });
    expect(encodeModelConfig(c).length).toBeGreaterThan(100);
  });

  it('GPU instances, gpus, batch size and delay land in their schema fields', () => {
    const text = tritonConfigText({
      name: 'm.v2',
      ...CONTRACT,
      maxBatchSize: 32,
      maxQueueDelayMicroseconds: 2500,
      instanceKind: 'gpu',
      instanceCount: 3,
      gpus: [0, 2],
    });
    const c = parseModelConfig(text);
    expect(c.max_batch_size).toBe(32);
    expect(c.dynamic_batching).toEqual({ max_queue_delay_microseconds: 2500 });
    expect(c.instance_group).toEqual([{ count: 3, kind: 'KIND_GPU', gpus: [0, 2] }]);
    expect(c.parameters).toBeUndefined();
  });
});

describe('the text format as Triton documents it', () => {
  it('reads lists, <> messages, separators, comments, enum numbers, hex, string concatenation and maps', () => {
    const c = parseModelConfig(`# a comment
name: "a"; platform: 'onnxruntime_onnx'
max_batch_size: 0x10
input [ { name: "x" data_type: TYPE_UINT8 format: FORMAT_NCHW dims: [ 3, -1, -1 ] } ]
output < name: "y", data_type: 11, dims: 5 dims: 2 >
version_policy: { specific: { versions: [1, 3] } }
parameters { key: "k" value { string_value: "a\\"b" 'c\\u00e9' } }
parameters: [ { key: "j" value: { string_value: "\\101\\x42" } } ]
instance_group [ { kind: KIND_CPU count: 2 } ]
optimization { graph { level: -1 } }
model_warmup [ { name: "w" batch_size: 1 inputs { key: "x" value { data_type: TYPE_UINT8 dims: [3, 4, 4] zero_data: true } } } ]
`);
    expect(c).toMatchObject({
      name: 'a',
      platform: 'onnxruntime_onnx',
      max_batch_size: 16,
      input: [{ name: 'x', data_type: 'TYPE_UINT8', format: 'FORMAT_NCHW', dims: [3, -1, -1] }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [5, 2] }],
      version_policy: { specific: { versions: [1, 3] } },
      parameters: { k: { string_value: 'a"bcé' }, j: { string_value: 'AB' } },
      instance_group: [{ kind: 'KIND_CPU', count: 2 }],
      optimization: { graph: { level: -1 } },
    });
  });

  it('encodes with the field numbers of model_config.proto', () => {
    // name = 1 (length-delimited), max_batch_size = 4 (varint), dynamic_batching = 11 { max_queue_delay_microseconds = 2 }.
    const bytes = encodeModelConfig(parseModelConfig('name: "a" max_batch_size: 8 dynamic_batching { max_queue_delay_microseconds: 100 }'));
    expect(Buffer.from(bytes).toString('hex')).toBe('0a0161' + '2008' + '5a02' + '1064');
    // input = 5 { name = 1, data_type = 2 (TYPE_FP32 = 11), dims = 4 packed }.
    const input = encodeModelConfig(parseModelConfig('input { name: "i" data_type: TYPE_FP32 dims: [3] }'));
    expect(Buffer.from(input).toString('hex')).toBe('2a08' + '0a0169' + '100b' + '220103');
  });
});

describe('what Triton refuses is refused, with file, line and column', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['an unknown field', 'name: "a"\nmax_batch: 8', /^m\/config\.pbtxt:2:1: inference\.ModelConfig has no field "max_batch"/],
    ['an unknown field in a nested message', 'input { name: "x" datatype: TYPE_FP32 }', /:1:19: inference\.ModelInput has no field "datatype"/],
    ['an unknown enum value', 'input { data_type: TYPE_FLOAT32 }', /:1:20: "TYPE_FLOAT32" is not a value of enum DataType/],
    ['an enum number out of range', 'instance_group { kind: 7 }', /7 is not a value of enum Kind/],
    ['a string where an integer goes', 'max_batch_size: "8"', /:1:17: expected an integer for "max_batch_size"/],
    ['an int32 overflow', 'max_batch_size: 2147483648', /2147483648 is out of range for int32 "max_batch_size"/],
    ['a negative uint32', 'version_policy { latest { num_versions: -1 } }', /-1 is out of range for uint32/],
    ['a fraction for an integer', 'max_batch_size: 1.5', /expected an integer for "max_batch_size", got "1.5"/],
    ['a list for a singular field', 'name: ["a"]', /field "name" of ModelConfig is not repeated/],
    ['a singular field twice', 'name: "a"\nname: "b"', /:2:1: field "name" of ModelConfig is set twice/],
    ['two schedulers (a oneof)', 'dynamic_batching { }\nsequence_batching { }', /:2:1: "sequence_batching" and "dynamic_batching" are both set/],
    ['two version policies (a oneof)', 'version_policy { all { } latest { } }', /"latest" and "all" are both set/],
    ['a scalar field without ":"', 'name "a"', /expected ":" after field "name"/],
    ['an identifier for a string', 'platform: onnxruntime_onnx', /expected a quoted string for "platform"/],
    ['an unterminated string', 'name: "a\n', /:1:7: unterminated string/],
    ['an unclosed message', 'input { name: "x"', /expected "}" before the end of the text/],
    ['an extension', '[inference.x] { }', /extension and Any fields/],
    ['a bad escape', 'name: "\\q"', /unknown escape \\q/],
    ['a map entry with another field', 'parameters { key: "k" val { } }', /a map entry of "parameters" has only "key" and "value", got "val"/],
    ['a trailing comma in a list', 'input { dims: [1, 2,] }', /a list may not end with ","/],
    ['a stray character', 'name: "a" @', /unexpected character "@"/],
  ];
  it.each(cases)('%s', (_what, text, pattern) => {
    let error: unknown;
    try {
      parseModelConfig(text, 'm/config.pbtxt');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TextFormatError);
    expect((error as Error).message).toMatch(/^m\/config\.pbtxt:\d+:\d+: /);
    expect((error as Error).message).toMatch(pattern);
  });
});
