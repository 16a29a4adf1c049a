import { describe, expect, it } from 'vitest';
import { fieldValue, fieldValues, formatTextMessage, ident, message, parseTextMessage, quote, TextFormatError } from './pbtxt.js';

describe('protobuf text format subset', () => {
  it('parses what Triton configs look like (comments, lists of messages, inline lists, enums, separators)', () => {
    const m = parseTextMessage(`
      # a comment
      name: "m"  platform: 'onnxruntime_onnx'
      max_batch_size: 8,
      input [ { name: "x", data_type: TYPE_FP32, dims: [ 3, -1, 2.5e1 ] } ]
      dynamic_batching { max_queue_delay_microseconds: 100 }
      instance_group: [ { count: 2; kind: KIND_GPU gpus: [0, 1] } ]
      output { name: "y" dims: [ 1 ] reshape: { shape: [ ] } }
    `);
    expect(fieldValue(m, 'name')).toBe('m');
    expect(fieldValue(m, 'platform')).toBe('onnxruntime_onnx');
    expect(fieldValue(m, 'max_batch_size')).toBe(8);
    const input = fieldValues(m, 'input');
    expect(input).toHaveLength(1);
    expect(input[0]).toEqual(message(['name', 'x'], ['data_type', ident('TYPE_FP32')], ['dims', [3, -1, 25]]));
    expect(fieldValue(m, 'dynamic_batching')).toEqual(message(['max_queue_delay_microseconds', 100]));
    expect(fieldValues(m, 'instance_group')).toEqual([message(['count', 2], ['kind', ident('KIND_GPU')], ['gpus', [0, 1]])]);
    expect(fieldValue(m, 'output')).toEqual(message(['name', 'y'], ['dims', [1]], ['reshape', message(['shape', []])]));
  });

  it('reads back what it writes, escapes included', () => {
    const tricky = 'a "quoted" back\\slash\nnew line, tab\t, bell \u0007 and UTF-8: visé ノード';
    const m = message(
      ['name', 'unias'],
      ['max_batch_size', 16],
      ['input', [message(['name', 'image'], ['dims', [3, 224, 224]])]],
      ['output', [message(['name', 'a'], ['dims', [1]], ['reshape', message(['shape', []])]), message(['name', 'b'], ['kind', ident('KIND_CPU')])]],
      ['parameters', message(['key', 'k'], ['value', message(['string_value', tricky])])],
      ['parameters', message(['key', 'k2'], ['value', message(['string_value', ''])])],
    );
    const text = formatTextMessage(m);
    expect(text).toContain('reshape {\n      shape: [ ]\n    }');
    expect(quote('x"y')).toBe('"x\\"y"');
    expect(parseTextMessage(text)).toEqual(m);
  });

  it('errors say where: line and column', () => {
    expect(() => parseTextMessage('name: "m"\nmax_batch_size 8', 'config.pbtxt')).toThrow(TextFormatError);
    expect(() => parseTextMessage('name: "m"\nmax_batch_size 8', 'config.pbtxt')).toThrow(/^config\.pbtxt:2:16: expected ":" after field "max_batch_size"/);
    expect(() => parseTextMessage('a { b: 1')).toThrow(/expected "}" before the end/);
    expect(() => parseTextMessage('a: "open')).toThrow(/1:4: unterminated string/);
    expect(() => parseTextMessage('a: [1 2]')).toThrow(/expected "," or "]"/);
  });
});
