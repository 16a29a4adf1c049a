/**
 * The Open Inference Protocol v2 surface over real HTTP, checked against the closed form of the test
 * model (mean over channels of |x - 0.5|, max) computed in float64.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchInfo } from './batcher.js';
import { postJson, startTestServer, TEST_SIZE, type RunningServer } from './testing/harness.js';
import { addTestModel, anomalyTestModel, referenceAnomalyMap } from './testing/test-models.js';

const { height: H, width: W } = TEST_SIZE;

function randomImage(n: number, seed: number): Float32Array {
  const out = new Float32Array(n * 3 * H * W);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s >>> 8) / 16777216;
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(tol);
}

interface V2Output {
  name: string;
  datatype: string;
  shape: number[];
  data: number[];
}

describe('Open Inference Protocol v2', () => {
  let s: RunningServer;
  const batches: BatchInfo[] = [];

  beforeAll(async () => {
    s = await startTestServer({
      models: [
        { bytes: anomalyTestModel(TEST_SIZE), name: 'anomaly' },
        { bytes: addTestModel(), name: 'add' },
        { bytes: anomalyTestModel({ ...TEST_SIZE, dynamicBatch: false }), name: 'fixed' },
      ],
      // Fixed waiting makes concurrent requests meet in one batch deterministically.
      batchWaitPolicy: 'fixed',
      maxBatchWaitMs: 150,
      onBatch: (model, info) => {
        if (model === 'anomaly') batches.push(info);
      },
    });
  });
  afterAll(() => s.close());

  it('answers health probes and server metadata', async () => {
    const live = await fetch(`${s.url}/v2/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ live: true });
    const ready = await fetch(`${s.url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
    const meta = await (await fetch(`${s.url}/v2`)).json();
    expect(meta).toEqual({ name: 'unias-server', version: '0.1.0', extensions: ['binary_tensor_data', 'model_configuration'] });
  });

  it('describes a model with -1 for dynamic dimensions', async () => {
    const res = await fetch(`${s.url}/v2/models/anomaly`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, unknown>;
    // Exactly the spec's fields.
    expect(Object.keys(meta).sort()).toEqual(['inputs', 'name', 'outputs', 'platform', 'versions']);
    expect(meta).toMatchObject({
      name: 'anomaly',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 3, H, W] }],
      outputs: [
        { name: 'anomaly_map', datatype: 'FP32', shape: [-1, 1, H, W] },
        { name: 'score', datatype: 'FP32', shape: [-1] },
      ],
    });
    const config = (await (await fetch(`${s.url}/v2/models/anomaly/config`)).json()) as Record<string, unknown>;
    expect(config).toMatchObject({
      name: 'anomaly',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: [{ name: 'image', data_type: 'TYPE_FP32', dims: [3, H, W] }],
      output: [
        { name: 'anomaly_map', data_type: 'TYPE_FP32', dims: [1, H, W] },
        { name: 'score', data_type: 'TYPE_FP32', dims: [] },
      ],
      parameters: { 'unias.input_size': { string_value: `${H},${W}` }, 'unias.threshold.image': { string_value: '0.3' } },
    });
    const fixed = (await (await fetch(`${s.url}/v2/models/fixed/versions/1`)).json()) as { inputs: { shape: number[] }[] };
    expect(fixed.inputs[0]!.shape).toEqual([1, 3, H, W]);
    const fixedConfig = (await (await fetch(`${s.url}/v2/models/fixed/config`)).json()) as { max_batch_size: number; input: { dims: number[] }[] };
    expect(fixedConfig.max_batch_size).toBe(0);
    expect(fixedConfig.input[0]!.dims).toEqual([1, 3, H, W]);
    const ready = await fetch(`${s.url}/v2/models/anomaly/ready`);
    expect(await ready.json()).toEqual({ name: 'anomaly', ready: true });
  });

  it('infers a batch sent as flat JSON and matches the closed form', async () => {
    const x = randomImage(2, 1);
    const res = await postJson(`${s.url}/v2/models/anomaly/infer`, {
      id: 'req-7',
      inputs: [{ name: 'image', shape: [2, 3, H, W], datatype: 'FP32', data: Array.from(x) }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model_name: string; id: string; outputs: V2Output[] };
    expect(body.model_name).toBe('anomaly');
    expect(body.id).toBe('req-7');
    const ref = referenceAnomalyMap(x, 2, H, W);
    const [map, score] = body.outputs;
    expect(map!).toMatchObject({ name: 'anomaly_map', datatype: 'FP32', shape: [2, 1, H, W] });
    expectClose(map!.data, ref.map);
    expect(score!).toMatchObject({ name: 'score', datatype: 'FP32', shape: [2] });
    expectClose(score!.data, ref.score);
  });

  it('accepts nested data, returns only the requested outputs, and serves the versioned path', async () => {
    const x = randomImage(1, 2);
    const nested = [[0, 1, 2].map((c) => Array.from({ length: H }, (_, y) => Array.from(x.subarray(c * H * W + y * W, c * H * W + (y + 1) * W))))];
    const res = await postJson(`${s.url}/v2/models/anomaly/versions/1/infer`, {
      inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: nested }],
      outputs: [{ name: 'score' }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { outputs: V2Output[]; id?: string };
    expect(body.id).toBeUndefined();
    expect(body.outputs.map((o) => o.name)).toEqual(['score']);
    expectClose(body.outputs[0]!.data, referenceAnomalyMap(x, 1, H, W).score);
  });

  it('speaks the binary tensor extension both ways (Triton clients)', async () => {
    const x = randomImage(1, 3);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
        outputs: [
          { name: 'anomaly_map', parameters: { binary_data: true } },
          { name: 'score', parameters: { binary_data: false } },
        ],
      }),
    );
    const res = await fetch(`${s.url}/v2/models/anomaly/infer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(x.buffer)]),
    });
    expect(res.status).toBe(200);
    const raw = Buffer.from(await res.arrayBuffer());
    const jsonLength = Number(res.headers.get('inference-header-content-length'));
    const json = JSON.parse(raw.subarray(0, jsonLength).toString());
    expect(json.outputs[0]).toEqual({ name: 'anomaly_map', datatype: 'FP32', shape: [1, 1, H, W], parameters: { binary_data_size: 4 * H * W } });
    const tail = raw.subarray(jsonLength);
    const map = new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + tail.length));
    const ref = referenceAnomalyMap(x, 1, H, W);
    expectClose(map, ref.map);
    expectClose(json.outputs[1].data, ref.score);
  });

  it('serves models outside the contract: two inputs, an INT64 output', async () => {
    const res = await postJson(`${s.url}/v2/models/add/infer`, {
      inputs: [
        {
          name: 'a',
          shape: [2, 4],
          datatype: 'FP32',
          data: [
            [1, 2, 3, 4],
            [0, 0, 9, 0],
          ],
        },
        { name: 'b', shape: [2, 4], datatype: 'FP32', data: [10, 0, 0, 0, 0, 5, 0, 0] },
      ],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { outputs: V2Output[] };
    expect(body.outputs).toEqual([
      { name: 'sum', datatype: 'FP32', shape: [2, 4], data: [11, 2, 3, 4, 0, 5, 9, 0] },
      { name: 'argmax', datatype: 'INT64', shape: [2, 1], data: [0, 2] },
    ]);
    const predict = await fetch(`${s.url}/predict?model=add`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: Buffer.from([1]) });
    expect(predict.status).toBe(400);
    expect(((await predict.json()) as { error: string }).error).toMatch(/model 'add' cannot serve \/predict: needs one input named 'image'/);
  });

  it('runs concurrent requests as one onnxruntime batch and splits the results back', async () => {
    batches.length = 0;
    const inputs = [randomImage(1, 10), randomImage(2, 11), randomImage(1, 12), randomImage(1, 13)];
    const responses = await Promise.all(
      inputs.map((x) =>
        postJson(`${s.url}/v2/models/anomaly/infer`, {
          inputs: [{ name: 'image', shape: [x.length / (3 * H * W), 3, H, W], datatype: 'FP32', data: Array.from(x) }],
        }),
      ),
    );
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { outputs: V2Output[] }[];
    bodies.forEach((body, i) => {
      const n = inputs[i]!.length / (3 * H * W);
      const ref = referenceAnomalyMap(inputs[i]!, n, H, W);
      expect(body.outputs[0]!.shape).toEqual([n, 1, H, W]);
      expectClose(body.outputs[0]!.data, ref.map);
      expectClose(body.outputs[1]!.data, ref.score);
    });
    expect(batches.reduce((a, b) => a + b.size, 0)).toBe(5);
    // All four arrived well inside the 150 ms window: fewer runs than requests, at least one combined.
    expect(batches.length).toBeLessThan(4);
    expect(Math.max(...batches.map((b) => b.requests))).toBeGreaterThan(1);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/unias_batch_size_bucket\{model="anomaly",le="1"\} \d+/);
    expect(metrics).toMatch(/unias_http_requests_total\{route="\/v2\/models\/\{name\}\/infer",method="POST",status="200"\} \d+/);
    expect(metrics).toMatch(/unias_queue_depth\{model="anomaly"\} 0/);
  });

  it('runs a model without a batch axis one request at a time', async () => {
    const x = randomImage(1, 20);
    const results = await Promise.all(
      [0, 1].map(() => postJson(`${s.url}/v2/models/fixed/infer`, { inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: Array.from(x) }] })),
    );
    for (const r of results) expect(r.status).toBe(200);
    const bad = await postJson(`${s.url}/v2/models/fixed/infer`, {
      inputs: [{ name: 'image', shape: [2, 3, H, W], datatype: 'FP32', data: Array.from(randomImage(2, 1)) }],
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/model expects \[1, 3, 32, 32\]/);
  });
});
