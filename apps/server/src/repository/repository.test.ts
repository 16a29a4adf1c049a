/**
 * `--model-repository`: a repository written by the exporter's own functions (tritonConfigText,
 * writeTritonFiles) is served with its config honoured: names, versions by version_policy,
 * max_batch_size, the score output's reshape, dims; answers are checked against the closed form
 * of the test models (k x mean over channels of |image - 0.5|, score = its max), where k tells
 * versions apart. Repositories Triton would refuse are refused, naming the file.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toOnnxModel } from '@unias/backend-onnx';
import { tritonConfigText, writeTritonFiles } from '@unias/exporters';
import { createGraph } from '@unias/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type UniasServer } from '../server.js';
import { parseServeArgs } from '../cli-args.js';
import { untilStatus } from '../testing/harness.js';
import { contractMetadata, referenceAnomalyMap } from '../testing/test-models.js';
import { loadModelRepository, scanModelRepository, servedVersions } from './index.js';

const H = 8;
const W = 8;
const io = (name: string, shape: number[]) => ({ name, dtype: 'float32' as const, shape, batchAxis: 0 });
const CONTRACT_IO = { inputs: [io('image', [1, 3, H, W])], outputs: [io('anomaly_map', [1, 1, H, W]), io('score', [1])] };

/** The contract model (dynamic batch) with its map scaled by k. */
function scaledModel(k: number, dynamicBatch = true): Uint8Array {
  const b = createGraph();
  const image = b.input('image', [1, 3, H, W]);
  const map = b.mul(b.mean(b.abs(b.sub(image, 0.5)), [1], true), k);
  b.output('anomaly_map', map);
  b.output('score', b.max(map, [1, 2, 3]));
  return toOnnxModel(b.build(), { dynamicBatch, metadata: contractMetadata(H, W), graphName: `scaled_${k}` });
}

async function addVersion(repo: string, name: string, version: number, k: number): Promise<void> {
  await mkdir(join(repo, name, String(version)), { recursive: true });
  await writeFile(join(repo, name, String(version), 'model.onnx'), scaledModel(k));
}

function image(n: number): Float32Array {
  const x = new Float32Array(n * 3 * H * W);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 37) % 101) / 100;
  return x;
}

async function infer(url: string, path: string, n: number, outputs?: string[]): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      inputs: [{ name: 'image', datatype: 'FP32', shape: [n, 3, H, W], data: Array.from(image(n)) }],
      ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
    }),
  });
  return { status: res.status, body: await res.json() };
}

// any: response bodies are checked field by field
const json = (res: Response): Promise<any> => res.json();

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-repository-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a repository written by the exporter', () => {
  let repo: string;
  let server: UniasServer;
  let url: string;
  const batches: Array<{ model: string; size: number }> = [];

  beforeAll(async () => {
    repo = join(dir, 'models');
    // 'anomaly': the exporter's config (max_batch_size 2) and writer; versions 1 (k=1) and 3 (k=3): the default policy serves 3 only.
    await writeTritonFiles({
      repository: repo,
      name: 'anomaly',
      onnx: scaledModel(1),
      configText: tritonConfigText({ name: 'anomaly', ...CONTRACT_IO, maxBatchSize: 2 }),
    });
    await addVersion(repo, 'anomaly', 3, 3);
    // 'multi': the same config with version_policy all; versions 1 (k=1) and 2 (k=2).
    await mkdir(join(repo, 'multi'), { recursive: true });
    await writeFile(
      join(repo, 'multi', 'config.pbtxt'),
      `${tritonConfigText({ name: 'multi', ...CONTRACT_IO, maxBatchSize: 4, maxQueueDelayMicroseconds: 200_000 })}version_policy { all { } }\n`,
    );
    await addVersion(repo, 'multi', 1, 1);
    await addVersion(repo, 'multi', 2, 2);
    // 'bare': no config.pbtxt (Triton then takes the model's own tensors, max_batch_size 0).
    await addVersion(repo, 'bare', 1, 5);
    // An export in progress (hidden) is not a model.
    await mkdir(join(repo, '.anomaly.123.tmp', '1'), { recursive: true });
    const parsed = parseServeArgs(['--model-repository', repo, '--log-level', 'silent', '--threads', '1', '--batch-wait-policy', 'fixed']);
    if (parsed.help) throw new Error('unexpected help');
    server = createServer({ ...parsed.options, onBatch: (model, info) => batches.push({ model, size: info.size }) });
    url = (await server.listen(0, '127.0.0.1')).url;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves every model and the versions its policy names', async () => {
    expect(server.models.map((m) => `${m.name}/${m.version}`)).toEqual(['anomaly/3', 'bare/1', 'multi/1', 'multi/2']);
    const meta = await json(await fetch(`${url}/v2/models/multi`));
    expect(meta.versions).toEqual(['1', '2']);
    // The config's dims with the batch axis; score is [N, 1] to the API (dims [1], reshape []).
    expect(meta.inputs).toEqual([{ name: 'image', datatype: 'FP32', shape: [-1, 3, H, W] }]);
    expect(meta.outputs).toEqual([
      { name: 'anomaly_map', datatype: 'FP32', shape: [-1, 1, H, W] },
      { name: 'score', datatype: 'FP32', shape: [-1, 1] },
    ]);
    expect((await json(await fetch(`${url}/v2/models/anomaly`))).versions).toEqual(['3']);
    const missing = await fetch(`${url}/v2/models/anomaly/versions/1/ready`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toBe("model 'anomaly' has no version '1'; available: '3'");
  });

  it('routes /v2/models/{name}/versions/{v}/infer to that version (closed form x k), the highest without a version', async () => {
    const ref = referenceAnomalyMap(image(2), 2, H, W);
    for (const [path, k] of [
      ['/v2/models/multi/versions/1/infer', 1],
      ['/v2/models/multi/versions/2/infer', 2],
      ['/v2/models/multi/infer', 2],
      ['/v2/models/anomaly/infer', 3],
    ] as const) {
      const { status, body } = await infer(url, path, 2);
      expect(status, path).toBe(200);
      const score = body.outputs.find((o: { name: string }) => o.name === 'score');
      // The model's [N] comes back as [N, 1], as config.pbtxt's reshape says.
      expect(score.shape).toEqual([2, 1]);
      score.data.forEach((v: number, i: number) => expect(v).toBeCloseTo(k * ref.score[i]!, 5));
      const map = body.outputs.find((o: { name: string }) => o.name === 'anomaly_map');
      expect(map.shape).toEqual([2, 1, H, W]);
      expect(map.data[5]).toBeCloseTo(k * ref.map[5]!, 5);
    }
  });

  it('batches concurrent requests up to max_batch_size (dynamic_batching) and gives each its own slice, reshaped', async () => {
    batches.length = 0;
    const ref = referenceAnomalyMap(image(1), 1, H, W);
    const answers = await Promise.all(Array.from({ length: 6 }, () => infer(url, '/v2/models/multi/versions/2/infer', 1, ['score'])));
    for (const { status, body } of answers) {
      expect(status).toBe(200);
      expect(body.outputs[0].shape).toEqual([1, 1]);
      expect(body.outputs[0].data[0]).toBeCloseTo(2 * ref.score[0]!, 5);
    }
    const sizes = batches.filter((b) => b.model === 'multi').map((b) => b.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(6);
    // The config's 200 ms queue delay gathers them; max_batch_size 4 splits them.
    expect(Math.max(...sizes)).toBe(4);
  });

  it('refuses a request larger than max_batch_size with 400, as Triton does', async () => {
    const over = await infer(url, '/v2/models/anomaly/infer', 3, ['score']);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatch(/^inference request batch-size must be <= 2 for 'anomaly'/);
    expect((await infer(url, '/v2/models/multi/versions/1/infer', 3, ['score'])).status).toBe(200);
  });

  it("a model folder without config.pbtxt is served with the model's own tensors and no batch limit", async () => {
    const meta = await json(await fetch(`${url}/v2/models/bare`));
    expect(meta.outputs).toEqual([
      { name: 'anomaly_map', datatype: 'FP32', shape: [-1, 1, H, W] },
      { name: 'score', datatype: 'FP32', shape: [-1] },
    ]);
    expect(await json(await fetch(`${url}/v2/models/bare/config`))).toMatchObject({ name: 'bare', platform: 'onnxruntime_onnx', max_batch_size: 0 });
    const { status, body } = await infer(url, '/v2/models/bare/versions/1/infer', 3, ['score']);
    expect(status).toBe(200);
    const ref = referenceAnomalyMap(image(3), 3, H, W);
    expect(body.outputs[0].shape).toEqual([3]);
    body.outputs[0].data.forEach((v: number, i: number) => expect(v).toBeCloseTo(5 * ref.score[i]!, 5));
  });

  it('each version runs in a supervised worker process: killed, it restarts and answers again, the other versions untouched', async () => {
    const pidOf = (name: string, version: string) => server.models.find((m) => m.name === name && m.version === version)!.workerPid!;
    const before = pidOf('multi', '1');
    const other = pidOf('multi', '2');
    expect(before).toBeTypeOf('number');
    process.kill(before, 'SIGKILL');
    // Polled, not timed: the supervisor counts the restart once the new worker has loaded.
    while (server.models.find((m) => m.name === 'multi' && m.version === '1')!.workerRestarts === 0) await new Promise((r) => setTimeout(r, 20));
    await untilStatus(`${url}/v2/models/multi/versions/1/ready`, 200);
    await untilStatus(`${url}/v2/health/ready`, 200);
    expect((await infer(url, '/v2/models/multi/versions/1/infer', 1, ['score'])).status).toBe(200);
    expect(pidOf('multi', '1')).not.toBe(before);
    expect(pidOf('multi', '2')).toBe(other);
    expect(server.models.find((m) => m.name === 'multi' && m.version === '1')!.workerRestarts).toBe(1);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^unias_worker_restarts\{model="multi"\} 1$/m);
  });

  it('GET .../config gives the config.pbtxt it serves', async () => {
    const config = await json(await fetch(`${url}/v2/models/anomaly/versions/3/config`));
    expect(config).toMatchObject({
      name: 'anomaly',
      platform: 'onnxruntime_onnx',
      max_batch_size: 2,
      input: [{ name: 'image', data_type: 'TYPE_FP32', dims: [3, H, W] }],
      output: [{ name: 'anomaly_map' }, { name: 'score', dims: [1], reshape: {} }],
      dynamic_batching: { max_queue_delay_microseconds: 100 },
    });
  });

  it('/predict picks a model and version', async () => {
    const sharp = (await import('sharp')).default;
    const png = await sharp(Buffer.alloc(H * W * 3, 200), { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer();
    const post = (q: string) => fetch(`${url}/predict?${q}`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: png });
    const v1 = await json(await post('model=multi&version=1'));
    const v2 = await json(await post('model=multi&version=2'));
    // A flat grey of 200/255: every pixel's map value is |200/255 - 0.5|.
    expect(v1.score).toBeCloseTo(Math.abs(200 / 255 - 0.5), 5);
    expect(v2.score).toBeCloseTo(2 * Math.abs(200 / 255 - 0.5), 5);
  });
});

describe('version_policy', () => {
  const present = ['1', '2', '10', '3'];
  it.each([
    ['no policy: the highest', {}, ['10']],
    ['latest 2', { version_policy: { latest: { num_versions: 2 } } }, ['3', '10']],
    ['all', { version_policy: { all: {} } }, ['1', '2', '3', '10']],
    ['specific', { version_policy: { specific: { versions: [2, 1] } } }, ['1', '2']],
  ] as const)('%s', (_what, config, expected) => {
    expect(servedVersions(present, config, 'c')).toEqual(expected);
  });
  it('a specific version without a folder is an error', () => {
    expect(() => servedVersions(present, { version_policy: { specific: { versions: [4] } } }, 'm/config.pbtxt')).toThrow(
      'm/config.pbtxt: version_policy specific lists version 4, which has no folder (present: 1, 2, 3, 10)',
    );
  });
});

describe('repositories that are refused, naming the file', () => {
  async function repoWith(name: string, config: string | null, versions: number[] = [1], dynamicBatch = true): Promise<string> {
    const repo = join(dir, `bad-${name}`);
    await mkdir(join(repo, 'm'), { recursive: true });
    if (config !== null) await writeFile(join(repo, 'm', 'config.pbtxt'), config);
    for (const v of versions) {
      await mkdir(join(repo, 'm', String(v)), { recursive: true });
      await writeFile(join(repo, 'm', String(v), 'model.onnx'), scaledModel(1, dynamicBatch));
    }
    return repo;
  }
  const good = (): string => tritonConfigText({ name: 'm', ...CONTRACT_IO });

  it.each([
    ["a field outside Triton's schema", (): string | null => `${good()}max_batch: 4\n`, /config\.pbtxt:\d+:1: inference\.ModelConfig has no field "max_batch"/],
    ['a wrong data type name', () => good().replace('TYPE_FP32', 'TYPE_FLOAT'), /config\.pbtxt:\d+:\d+: "TYPE_FLOAT" is not a value of enum DataType/],
    ['another platform', () => good().replace('onnxruntime_onnx', 'tensorrt_plan'), /config\.pbtxt: platform 'tensorrt_plan' is not served here/],
    ["a name that is not the folder's", () => good().replace('name: "m"', 'name: "other"'), /config\.pbtxt: name 'other' differs from its folder 'm'/],
    ['sequence batching', () => good().replace(/dynamic_batching \{[^}]*\}/, 'sequence_batching { }'), /config\.pbtxt: sequence_batching is not supported/],
    [
      'a decoupled model',
      (): string | null => `${good()}model_transaction_policy { decoupled: true }\n`,
      /config\.pbtxt: decoupled models \(model_transaction_policy\) are not supported/,
    ],
    ['no version folder', (): string | null => null, /m: no version folder/],
  ] as const)('%s', async (what, config, pattern) => {
    const text = config();
    const repo = await repoWith(what.replace(/\W+/g, '-'), text === null ? good() : text, text === null ? [] : [1]);
    await expect(scanModelRepository(repo)).rejects.toThrow(pattern);
  });

  it.each([
    [
      'an input the model lacks',
      () => good().replace('name: "image"', 'name: "picture"'),
      true,
      /config\.pbtxt: input 'picture' is not in the model \(its inputs: image\)/,
    ],
    [
      'dims that differ from the model',
      () => good().replace(`dims: [ 3, ${H}, ${W} ]`, `dims: [ 3, ${H}, 16 ]`),
      true,
      new RegExp(`config\\.pbtxt: input 'image' is \\[-1,3,${H},16\\] by the config \\(with the batch axis\\), but \\[-1,3,${H},${W}\\] in the model`),
    ],
    [
      'batching a model without a dynamic batch axis',
      (): string | null => good(),
      false,
      /config\.pbtxt: max_batch_size > 0 needs a dynamic first axis, but input 'image' is \[1,3,8,8\] in the model/,
    ],
    [
      'a data type that differs',
      () => good().replace(/data_type: TYPE_FP32/, 'data_type: TYPE_FP16'),
      true,
      /input 'image' is data_type TYPE_FP16, but the model's is FP32/,
    ],
  ] as const)('%s', async (what, config, dynamicBatch, pattern) => {
    const repo = await repoWith(what.replace(/\W+/g, '-'), config(), [1], dynamicBatch);
    await expect(loadModelRepository(repo, { threads: 1 })).rejects.toThrow(pattern);
  });

  it('a repository model named like a --model file (same version) is refused', async () => {
    const repo = await repoWith('duplicate', good());
    const server = createServer({ models: [{ bytes: scaledModel(1), name: 'm' }], modelRepository: repo, logLevel: 'silent', threads: 1 });
    await expect(server.listen(0, '127.0.0.1')).rejects.toThrow("two models are named 'm' (version 1)");
    expect(server.state).toBe('closed');
  });

  it('createServer.listen() fails with the same message and the server closes', async () => {
    const repo = await repoWith('listen', `${good()}bogus: 1\n`);
    const server = createServer({ modelRepository: repo, logLevel: 'silent' });
    await expect(server.listen(0, '127.0.0.1')).rejects.toThrow(/has no field "bogus"/);
    expect(server.state).toBe('closed');
  });
});

describe("a repository behind the server's limits and trust checks", () => {
  it('needs the API key, takes the JSON body limit and answers a body over it with 413', async () => {
    const repo = join(dir, 'trusted');
    await writeTritonFiles({ repository: repo, name: 'm', onnx: scaledModel(1), configText: tritonConfigText({ name: 'm', ...CONTRACT_IO, maxBatchSize: 2 }) });
    const key = 'repository-test-key';
    const server = createServer({ modelRepository: repo, logLevel: 'silent', threads: 1, apiKey: key, maxJsonBodyBytes: 64 * 1024 });
    const { url } = await server.listen(0, '127.0.0.1');
    try {
      const body = (n: number) => JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [n, 3, H, W], data: Array.from(image(n)) }] });
      const post = (b: string, headers: Record<string, string> = {}) =>
        fetch(`${url}/v2/models/m/versions/1/infer`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: b });
      expect((await post(body(1))).status).toBe(401);
      expect((await post(body(1), { Authorization: `Bearer ${key}` })).status).toBe(200);
      const big = await post(`${body(1).slice(0, -1)},"pad":"${'x'.repeat(70 * 1024)}"}`, { Authorization: `Bearer ${key}` });
      expect(big.status).toBe(413);
      expect((await json(big)).error).toMatch(/max-json-body-bytes/);
      const over = await post(body(3), { Authorization: `Bearer ${key}` });
      expect(over.status).toBe(400);
      expect((await json(over)).error).toMatch(/^inference request batch-size must be <= 2 for 'm'/);
    } finally {
      await server.close();
    }
  });
});
