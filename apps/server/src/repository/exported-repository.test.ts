/**
 * The real thing end to end: `exportModel({ format: 'triton' })` of the small preset with the
 * official fixture weights writes a repository; its config.pbtxt parses against Triton's schema;
 * `--model-repository` serves it, and the answers equal a bare onnxruntime run of the same
 * model.onnx (the independent path), with config.pbtxt's shapes, batch limit and thresholds.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModel, loadModelFiles, readExportMetadata } from '@unias/exporters';
import { FIXTURES } from '@unias/test-fixtures';
import { parseModelConfig } from '@unias/triton-config';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../loaded-model.js';
import { createServer, type UniasServer } from '../server.js';

const SIZE = 224;
let dir: string;
let server: UniasServer;
let url: string;

function images(n: number): Float32Array {
  const x = new Float32Array(n * 3 * SIZE * SIZE);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s >>> 8) / 2 ** 24;
  }
  return x;
}

async function infer(n: number): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/v2/models/unias_small/versions/1/infer`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [n, 3, SIZE, SIZE], data: Array.from(images(n)) }] }),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-exported-repo-'));
  const model = await loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head], { preset: 'small' });
  await exportModel({ model, format: 'triton', out: dir, name: 'unias_small', maxBatchSize: 2, metadata: { thresholds: { image: 0.5 } } });
  server = createServer({ modelRepository: dir, logLevel: 'silent', threads: 2 });
  url = (await server.listen(0, '127.0.0.1')).url;
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a repository exported from the small preset', () => {
  it('its config.pbtxt is a valid Triton ModelConfig', async () => {
    const path = join(dir, 'unias_small', 'config.pbtxt');
    const config = parseModelConfig(await readFile(path, 'utf8'), path);
    expect(config.max_batch_size).toBe(2);
    expect(config.parameters?.['unias.threshold.image']).toEqual({ string_value: '0.5' });
  });

  it("serves it with the answers of a bare onnxruntime session on the same file, in the config's shapes", async () => {
    const { status, body } = await infer(2);
    expect(status).toBe(200);
    const session = await ort.InferenceSession.create(join(dir, 'unias_small', '1', 'model.onnx'), { intraOpNumThreads: 2 });
    try {
      const bare = await session.run({ image: new ort.Tensor('float32', images(2), [2, 3, SIZE, SIZE]) });
      const out = (name: string) => body.outputs.find((o: { name: string }) => o.name === name);
      expect(out('anomaly_map').shape).toEqual([2, 1, SIZE, SIZE]);
      expect(out('score').shape).toEqual([2, 1]);
      const map = bare['anomaly_map']!.data as Float32Array;
      const served = out('anomaly_map').data as number[];
      let worst = 0;
      for (let i = 0; i < map.length; i++) worst = Math.max(worst, Math.abs(served[i]! - map[i]!) / (Math.abs(map[i]!) + 1e-6));
      expect(worst).toBeLessThan(1e-4);
      const score = bare['score']!.data as Float32Array;
      out('score').data.forEach((v: number, i: number) => expect(v).toBeCloseTo(score[i]!, 5));
    } finally {
      await session.release();
    }
  });

  it("the server's loader reads, through the contract, the values the exporter wrote", async () => {
    const path = join(dir, 'unias_small', '1', 'model.onnx');
    // the exporter's own reader (the whole protobuf decoded) against the server's (metadata_props only)
    const written = await readExportMetadata(path);
    expect(written.inputSize).toEqual([SIZE, SIZE]);
    expect(written.thresholds).toEqual({ image: 0.5 });
    const served = await loadModel({ path, name: 'check' }, { threads: 1 });
    try {
      expect(served.metadata).toEqual(written.raw);
      expect(served.contract).toMatchObject({
        height: written.inputSize[0],
        width: written.inputSize[1],
        thresholds: { image: 0.5, pixel: null, source: null },
        precision: written.precision,
      });
    } finally {
      await served.session.release();
    }
  });

  it('caps a request at its max_batch_size', async () => {
    const { status, body } = await infer(3);
    expect(status).toBe(400);
    expect(body.error).toMatch(/batch-size must be <= 2 for 'unias_small'/);
  });
});
