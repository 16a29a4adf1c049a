import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.js';
import type { TensorSpec } from './loaded-model.js';
import { encodeInferResponse, parseInferRequest } from './v2-tensors.js';

const model = {
  name: 'm',
  batchable: true,
  inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 2, 3] }] as TensorSpec[],
  outputs: [
    { name: 'map', datatype: 'FP32', shape: [-1, 3] },
    { name: 'ids', datatype: 'INT64', shape: [-1] },
  ] as TensorSpec[],
};

const body = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

function errorOf(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

describe('parseInferRequest', () => {
  it('accepts flat and nested data in row-major order', () => {
    const flat = parseInferRequest(body({ inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] }), null, model);
    const nested = parseInferRequest(
      body({
        inputs: [
          {
            name: 'image',
            shape: [1, 2, 3],
            datatype: 'FP32',
            data: [
              [
                [1, 2, 3],
                [4, 5, 6],
              ],
            ],
          },
        ],
      }),
      null,
      model,
    );
    expect(Array.from(flat.inputs['image']!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(nested.inputs['image']!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(nested.inputs['image']!.dims).toEqual([1, 2, 3]);
    expect(flat.outputs).toEqual([
      { name: 'map', binary: false },
      { name: 'ids', binary: false },
    ]);
  });

  it('reads binary tensors after the JSON header (binary_data_size)', () => {
    const values = new Float32Array([0.5, 1.5, -2, 3, 4, 5]);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } }],
        outputs: [{ name: 'map', parameters: { binary_data: true } }],
      }),
    );
    const req = parseInferRequest(Buffer.concat([header, Buffer.from(values.buffer)]), header.length, model);
    expect(Array.from(req.inputs['image']!.data as Float32Array)).toEqual(Array.from(values));
    expect(req.outputs).toEqual([{ name: 'map', binary: true }]);
  });

  it.each([
    ['malformed JSON', '{"inputs": [', /malformed JSON/],
    ['not an object', '[1,2]', /JSON object/],
    ['no inputs', '{}', /"inputs" must be a non-empty array/],
    ['unknown input', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }, /unknown input 'x'; model 'm' takes 'image'/],
    ['wrong datatype', { inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'INT32', data: [1, 2, 3, 4, 5, 6] }] }, /datatype INT32; model expects FP32/],
    ['wrong rank', { inputs: [{ name: 'image', shape: [6], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] }, /shape \[6\]; model expects \[-1, 2, 3\]/],
    ['wrong fixed dim', { inputs: [{ name: 'image', shape: [1, 3, 2], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] }, /model expects \[-1, 2, 3\]/],
    ['count mismatch', { inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'FP32', data: [1, 2, 3] }] }, /3 data elements; shape \[1, 2, 3\] needs 6/],
    ['string element', { inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'FP32', data: [1, 2, 'x', 4, 5, 6] }] }, /data\[2\] = "x" is not a number/],
    ['negative dim', { inputs: [{ name: 'image', shape: [-1, 2, 3], datatype: 'FP32', data: [] }] }, /shape\[0\] = -1 is not a non-negative integer/],
    ['empty batch', { inputs: [{ name: 'image', shape: [0, 2, 3], datatype: 'FP32', data: [] }] }, /batch .* is empty/],
    ['no data', { inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'FP32' }] }, /has no "data"/],
    [
      'unknown output',
      { inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }], outputs: [{ name: 'nope' }] },
      /unknown output 'nope'/,
    ],
    ['twice', { inputs: [1, 2].map(() => ({ name: 'image', shape: [1, 2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] })) }, /given twice/],
  ])('rejects %s with a 400 that names the problem', (_what, payload, message) => {
    const e = errorOf(() => parseInferRequest(typeof payload === 'string' ? Buffer.from(payload) : body(payload), null, model));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(message);
  });

  it('rejects a binary size that does not match the shape', () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [1, 2, 3], datatype: 'FP32', parameters: { binary_data_size: 20 } }] }));
    const e = errorOf(() => parseInferRequest(Buffer.concat([header, Buffer.alloc(20)]), header.length, model));
    expect(e.message).toMatch(/binary_data_size 20 != 6 elements x 4 bytes/);
  });
});

describe('encodeInferResponse', () => {
  const outputs = {
    map: { data: new Float32Array([0.25, 0.5, 1]), dims: [1, 3] },
    ids: { data: new BigInt64Array([7n]), dims: [1] },
  };

  it('writes JSON outputs in the requested order with the request id', () => {
    const r = encodeInferResponse(
      model,
      {
        id: 'r1',
        inputs: {},
        outputs: [
          { name: 'ids', binary: false },
          { name: 'map', binary: false },
        ],
      },
      outputs,
    );
    expect(r.contentType).toBe('application/json');
    expect(JSON.parse(r.body.toString())).toEqual({
      model_name: 'm',
      id: 'r1',
      outputs: [
        { name: 'ids', datatype: 'INT64', shape: [1], data: [7] },
        { name: 'map', datatype: 'FP32', shape: [1, 3], data: [0.25, 0.5, 1] },
      ],
    });
  });

  it('writes binary outputs after the JSON header', () => {
    const r = encodeInferResponse(model, { id: undefined, inputs: {}, outputs: [{ name: 'map', binary: true }] }, outputs);
    const headerLength = Number(r.headers['Inference-Header-Content-Length']);
    const header = JSON.parse(r.body.subarray(0, headerLength).toString());
    expect(header.outputs).toEqual([{ name: 'map', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } }]);
    const tail = r.body.subarray(headerLength);
    expect(Array.from(new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + 12)))).toEqual([0.25, 0.5, 1]);
  });
});
