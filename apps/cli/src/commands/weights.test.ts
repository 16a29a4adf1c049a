/**
 * `unias weights`: the registry, and fetch against a local HTTP server on 127.0.0.1 serving a
 * checkpoint written by torch 1.13 (no test touches the network): verified and converted once; a
 * wrong hash is refused and nothing stays; a truncated body caches nothing and the next fetch
 * resumes with a Range request.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '@unias/graph';
import { readTorchCheckpointFile } from '@unias/torch-checkpoint';
import { runCli, tempDir, tinyDataset } from '../testing/helpers.js';
import { pretrainedWeightsFile, KNOWN_WEIGHTS } from '@unias/engine';

const FIXTURE = createRequire(import.meta.url).resolve('@unias/torch-checkpoint/fixtures/official-layout.pth.tar');
let body: Buffer;
let sha256: string;
let server: Server;
let base: string;
/** What the server does with the next request. */
let mode: 'whole' | 'truncate' = 'whole';
const ranges: Array<string | undefined> = [];

beforeAll(async () => {
  body = await readFile(FIXTURE);
  sha256 = createHash('sha256').update(body).digest('hex');
  server = createServer((req, res) => {
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
    if (m) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    headers['content-length'] = body.length - start;
    res.writeHead(m ? 206 : 200, headers);
    if (mode === 'truncate') {
      // Half the promised bytes, then (once the client is reading the body) the connection drops.
      res.write(body.subarray(start, start + Math.floor((body.length - start) / 2)));
      setTimeout(() => res.socket?.destroy(), 100);
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((done) => server.close(done));
});

let tmp: Awaited<ReturnType<typeof tempDir>>;
const saved = process.env['UNIAS_CACHE_DIR'];
beforeEach(async () => {
  tmp = await tempDir('weights');
  process.env['UNIAS_CACHE_DIR'] = tmp.dir;
  mode = 'whole';
  ranges.length = 0;
});
afterEach(async () => {
  if (saved === undefined) delete process.env['UNIAS_CACHE_DIR'];
  else process.env['UNIAS_CACHE_DIR'] = saved;
  await tmp.cleanup();
});

const cached = async (): Promise<string[]> => (await readdir(join(tmp.dir, 'weights')).catch(() => [] as string[])).sort();
const fetchArgs = (extra: string[] = []) => [
  'weights',
  'fetch',
  'tiny-net',
  '--url',
  `${base}/tiny-net-${sha256.slice(0, 8)}.pth`,
  '--sha256',
  sha256,
  '--quiet',
  ...extra,
];

describe('unias weights', () => {
  it('list: every known backbone with its file and licence, none cached in an empty cache', async () => {
    const r = await runCli(['weights', 'list']);
    expect(r.code, r.stderr).toBe(0);
    for (const w of KNOWN_WEIGHTS)
      expect(r.stdout).toMatch(new RegExp(`^${w.id}\\s+${w.fileName.replace(/\./g, '\\.')}\\s+no\\s+${w.licence.split(' ')[0]}`, 'm'));
    expect(r.stdout).toContain(`cache: ${join(tmp.dir, 'weights')}`);
    expect(KNOWN_WEIGHTS.map((w) => w.id)).toEqual([
      'efficientnet-b0',
      'efficientnet-b1',
      'efficientnet-b2',
      'efficientnet-b3',
      'efficientnet-b4',
      'resnet18',
      'resnet50',
      'wide_resnet50_2',
    ]);
    for (const w of KNOWN_WEIGHTS) expect(w.url.endsWith(`/${w.fileName}`) && w.fileName.includes(`-${w.sha256Prefix}.pth`), w.id).toBe(true);
  });

  it('fetch: downloads from the loopback server, verifies, converts once to safetensors with the same tensors; a second fetch uses the cache', async () => {
    const r = await runCli(fetchArgs());
    expect(r.code, r.stderr).toBe(0);
    const out = join(tmp.dir, 'weights', 'tiny-net.safetensors');
    expect(r.stdout).toBe(`${out}\n`);
    expect(await cached()).toEqual([`tiny-net-${sha256.slice(0, 8)}.pth`, 'tiny-net.safetensors']);
    const converted = await readSafetensorsFile(out);
    const original = await readTorchCheckpointFile(FIXTURE);
    expect([...converted.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    for (const [name, e] of original.tensors) expect(Buffer.from(converted.tensors.get(name)!.bytes).equals(Buffer.from(e.bytes)), name).toBe(true);
    expect(converted.metadata['sha256']).toBe(sha256);

    const again = await runCli(fetchArgs());
    expect(again.code, again.stderr).toBe(0);
    expect(ranges).toHaveLength(1);
    expect(await pretrainedWeightsFile('tiny-net').catch((e: Error) => e.message)).toMatch(/no known pretrained weights for backbone "tiny-net"/);
  });

  it('a wrong hash is refused and nothing is left in the cache', async () => {
    const r = await runCli(['weights', 'fetch', 'tiny-net', '--url', `${base}/x.pth`, '--sha256', '0123456789abcdef', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `unias: ${base}/x.pth: SHA-256 ${sha256} does not start with the expected 0123456789abcdef; refused and deleted (a corrupt or substituted file)\n`,
    );
    expect(await cached()).toEqual([]);
  });

  it('a truncated download caches nothing; the next fetch resumes where it stopped (Range) and verifies the whole file', async () => {
    mode = 'truncate';
    const r = await runCli(fetchArgs());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^unias: download of .* stopped after \d+ (of \d+ )?bytes .*nothing was cached, the partial .*\.part is kept so the same command resumes\n$/,
    );
    const partial = await cached();
    expect(partial).toEqual([`tiny-net-${sha256.slice(0, 8)}.pth.part`]);

    mode = 'whole';
    const resumed = await runCli(fetchArgs());
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(ranges[1]!.slice(6, -1))).toBeGreaterThan(0);
    expect(await cached()).toEqual([`tiny-net-${sha256.slice(0, 8)}.pth`, 'tiny-net.safetensors']);
    expect((await readFile(join(tmp.dir, 'weights', `tiny-net-${sha256.slice(0, 8)}.pth`))).equals(body)).toBe(true);
  });

  it('pretrainedWeightsFile says how to fetch a known backbone that is not cached; errors name the ID', async () => {
    await expect(pretrainedWeightsFile('efficientnet-b4')).rejects.toThrow(
      /pretrained weights for "efficientnet-b4" are not in the cache .*`unias weights fetch efficientnet-b4`/,
    );
    const unknown = await runCli(['weights', 'fetch', 'nope', '--quiet']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no known weights "nope" \(known: efficientnet-b0, .*\); for other weights give --url and --sha256/);
    expect((await runCli(['weights', 'fetch', '../x', '--quiet'])).code).toBe(2);
    expect((await runCli(['weights', 'pull'])).stderr).toMatch(/unknown weights command "pull"/);
  });

  it('train --backbone-weights pretrained reads the cache, and says how to fill it when empty', async () => {
    const data = await tinyDataset(join(tmp.dir, 'data'));
    const r = await runCli(['train', '--preset', 'small', '--data', data, '--backbone-weights', 'pretrained', '--steps', '1', '--out', join(tmp.dir, 'run')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pretrained weights for "efficientnet-b4" are not in the cache .*`unias weights fetch efficientnet-b4`/);
  });
});
