/** Test helpers: start a server on a free loopback port, post JSON, make images. */
import sharp from 'sharp';
import { createServer, type UniasServer } from '../server.js';
import type { ServerOptions } from '../options.js';
import { anomalyTestModel } from './test-models.js';

export const TEST_SIZE = { height: 32, width: 32 } as const;

export interface RunningServer {
  readonly server: UniasServer;
  readonly url: string;
  close(): Promise<void>;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const server = createServer({
    models: [{ bytes: anomalyTestModel(TEST_SIZE), name: 'anomaly' }],
    logLevel: 'silent',
    threads: 1,
    ...options,
  });
  const info = await server.listen(0, '127.0.0.1');
  return { server, url: info.url, close: () => server.close() };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A PNG of the given RGB pixels (H x W x 3, row-major). */
export function pngOf(pixels: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** Deterministic test pixels: a bright square on a mid-grey background with a gradient. */
export function patternPixels(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      const inSquare = x >= width / 4 && x < width / 2 && y >= height / 4 && y < height / 2;
      out[p] = inSquare ? 255 : 128;
      out[p + 1] = inSquare ? 250 : (x * 255) / Math.max(1, width - 1);
      out[p + 2] = inSquare ? 5 : (y * 255) / Math.max(1, height - 1);
    }
  }
  return out;
}

/** NCHW float [0,1] of H x W x 3 bytes: the model input the server should build. */
export function nchwOf(pixels: Uint8Array, width: number, height: number): Float64Array {
  const plane = width * height;
  const out = new Float64Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = pixels[p * 3 + c]! / 255;
  return out;
}

/** Decodes a base64 PNG to raw pixels. */
export async function decodePng(base64: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(Buffer.from(base64, 'base64')).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** The `error` message of a JSON error response (fails the test when the body is not one). */
export async function errorMessage(res: Response): Promise<string> {
  const body = (await res.json()) as { error?: unknown };
  if (typeof body.error !== 'string') throw new Error(`expected {"error": ...}, got ${JSON.stringify(body)}`);
  return body.error;
}

export type { PredictResult } from '../predict-result.js';

/** A v2 inference request with the image tensor as binary data (Triton's extension), asking for the score as JSON. */
export function binaryInferBody(image: Float32Array, dims: readonly number[]): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'image', shape: dims, datatype: 'FP32', parameters: { binary_data_size: image.byteLength } }],
      outputs: [{ name: 'score' }],
    }),
  );
  return {
    body: Buffer.concat([header, Buffer.from(image.buffer, image.byteOffset, image.byteLength)]),
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) },
  };
}

/** Polls `url` until it answers `status` (no fixed sleeps); fails after `timeoutMs`. */
export async function untilStatus(url: string, status: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url).catch(() => null);
    if (res !== null) await res.arrayBuffer();
    if (res?.status === status) return;
    if (Date.now() > end) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the server reports `n` inference requests in progress and `queued` waiting for a run. */
export async function untilInflight(url: string, n: number, queued?: number): Promise<void> {
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const inflight = new RegExp(`^unias_inflight_requests ${n}$`, 'm').test(text);
    const queue = queued === undefined || new RegExp(`^unias_queue_depth\\{[^}]*\\} ${queued}$`, 'm').test(text);
    if (inflight && queue) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}
