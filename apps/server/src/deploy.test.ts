/**
 * The deployment files (Dockerfile, deploy/**.yaml, docs/deploy.md) against the server itself:
 * command lines go through the server's argument parser, probe and healthcheck paths through its
 * router, ports and repository paths are compared across files, and a repository written by the
 * exporter is served with the Dockerfile's own arguments and answers the probes.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tritonConfigText, writeTritonFiles } from '@unias/exporters';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseServeArgs } from './cli-args.js';
import type { ServerOptions } from './options.js';
import { matchRoute, type Route } from './routes.js';
import { createServer } from './server.js';
import { anomalyTestModel } from './testing/test-models.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (path: string) => readFile(join(ROOT, path), 'utf8');
// KServe's storage initializer puts storageUri / STORAGE_URI here.
const KSERVE_MODEL_DIR = '/mnt/models';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Dockerfile instructions by stage (continuation lines joined, comments dropped). */
function dockerStages(text: string): Instruction[][] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const stages: Instruction[][] = [];
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read line '${line}'`);
    const ins = { op: m[1]!.toUpperCase(), args: m[2]! };
    if (ins.op === 'FROM') stages.push([]);
    if (stages.length === 0) throw new Error(`Dockerfile: ${ins.op} before FROM`);
    stages[stages.length - 1]!.push(ins);
  }
  return stages;
}

/** The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD; the shell form is refused (no signals to node). */
function execForm(args: string, what: string): string[] {
  const value: unknown = JSON.parse(args);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`${what} must be a JSON array of strings`);
  return value as string[];
}

function serveOptions(argv: readonly string[]): ServerOptions {
  const parsed = parseServeArgs(argv);
  if (parsed.help) throw new Error('help');
  return parsed.options;
}

const routeOf = (path: string): Route['kind'] => matchRoute(new URL(path, 'http://x').pathname).kind;

let dockerfile: Instruction[][];
let unias: any;
let triton: any;
let compose: any;

beforeAll(async () => {
  dockerfile = dockerStages(await read('Dockerfile'));
  unias = parseYaml(await read('deploy/kserve/unias-inferenceservice.yaml'));
  triton = parseYaml(await read('deploy/kserve/triton-inferenceservice.yaml'));
  compose = parseYaml(await read('deploy/triton/docker-compose.yaml'));
});

describe('Dockerfile', () => {
  const last = () => dockerfile[dockerfile.length - 1]!;
  const one = (op: string) => {
    const found = last().filter((i) => i.op === op);
    expect(found, op).toHaveLength(1);
    return found[0]!.args;
  };

  it('is multi-stage and runs as a non-root user', () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(2);
    const user = one('USER');
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    // The runtime stage copies from the build stage, and builds nothing itself.
    expect(last().some((i) => i.op === 'COPY' && i.args.includes('--from='))).toBe(true);
    expect(last().some((i) => i.op === 'RUN' && /pnpm|npm (i|install)/.test(i.args))).toBe(false);
  });

  it('the entrypoint is the package bin, and its arguments parse: the repository is the volume, the port is exposed', async () => {
    const entry = execForm(one('ENTRYPOINT'), 'ENTRYPOINT');
    const pkg = JSON.parse(await read('apps/server/package.json'));
    expect(entry).toEqual(['node', join('/app', pkg.bin['unias-serve'])]);
    const options = serveOptions(execForm(one('CMD'), 'CMD'));
    const volumes = execForm(one('VOLUME'), 'VOLUME');
    expect(volumes).toContain(options.modelRepository);
    expect(options.host).toBe('0.0.0.0');
    expect(one('EXPOSE')).toBe(String(options.port));
  });

  it("the healthcheck asks the server's readiness route on the exposed port", () => {
    const m = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(one('HEALTHCHECK'));
    expect(m).not.toBeNull();
    const probe = execForm(m![1]!, 'HEALTHCHECK CMD').join(' ');
    const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[^'"\s)]*)/.exec(probe);
    expect(url).not.toBeNull();
    expect(url![1]).toBe(one('EXPOSE'));
    expect(routeOf(url![2]!)).toBe('ready');
    expect(one('STOPSIGNAL')).toBe('SIGTERM');
  });
});

describe('KServe InferenceService (unias-serve image)', () => {
  const container = () => unias.spec.predictor.containers[0];

  it("is a v1beta1 InferenceService whose container serves KServe's model folder on its port", () => {
    expect(unias.apiVersion).toBe('serving.kserve.io/v1beta1');
    expect(unias.kind).toBe('InferenceService');
    const options = serveOptions(container().args);
    expect(options.modelRepository).toBe(KSERVE_MODEL_DIR);
    expect(options.host).toBe('0.0.0.0');
    expect(container().ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([options.port]);
    expect(container().env.find((e: { name: string }) => e.name === 'STORAGE_URI')?.value).toMatch(/^\w+:\/\//);
  });

  it("probes the server's readiness and liveness routes on that port", () => {
    const options = serveOptions(container().args);
    expect(container().readinessProbe.httpGet.port).toBe(options.port);
    expect(routeOf(container().readinessProbe.httpGet.path)).toBe('ready');
    expect(container().livenessProbe.httpGet.port).toBe(options.port);
    expect(routeOf(container().livenessProbe.httpGet.path)).toBe('live');
  });
});

describe('Triton examples', () => {
  it("KServe's Triton runtime gets the same repository over v2", () => {
    expect(triton.apiVersion).toBe('serving.kserve.io/v1beta1');
    expect(triton.kind).toBe('InferenceService');
    const model = triton.spec.predictor.model;
    expect(model.modelFormat.name).toBe('triton');
    expect(model.protocolVersion).toBe('v2');
    const storage = unias.spec.predictor.containers[0].env.find((e: { name: string }) => e.name === 'STORAGE_URI').value;
    expect(model.storageUri).toBe(storage);
  });

  it('docker compose runs both servers on one host folder, at the paths and ports their command lines give', async () => {
    const u = compose.services.unias;
    const t = compose.services.triton;
    const options = serveOptions(u.command);
    const mount = (service: { volumes: string[] }, target: string) => service.volumes.map((v) => v.split(':')).find((p) => p[1] === target);
    const uMount = mount(u, options.modelRepository!);
    expect(uMount).toBeDefined();
    const tritonRepo = /--model-repository=(\S+)/.exec(t.command.join(' '))?.[1];
    const tMount = mount(t, tritonRepo!);
    expect(tMount?.[0]).toBe(uMount![0]);
    expect(u.ports).toContain(`${options.port}:${options.port}`);
    const httpPort = /--http-port=(\d+)/.exec(t.command.join(' '))?.[1];
    expect(t.ports).toContain(`${httpPort}:${httpPort}`);
    // The build context holds the Dockerfile it names.
    const composeDir = join(ROOT, 'deploy/triton');
    expect((await stat(resolve(composeDir, u.build.context, u.build.dockerfile))).isFile()).toBe(true);
  });
});

describe('docs/deploy.md', () => {
  it('every curl path is a route of the server, and every model it names is exported under that name', async () => {
    const doc = await read('docs/deploy.md');
    const paths = [...doc.matchAll(/curl [^\n]*?(?:localhost:8080|\$INGRESS)(\/[^\s'"]*)/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThanOrEqual(5);
    const exported = new Set([...doc.matchAll(/unias export [^\n]*--name (\S+)/g)].map((m) => m[1]!));
    for (const path of paths) {
      expect(routeOf(path), path).not.toBe('not-found');
      const route = matchRoute(new URL(path, 'http://x').pathname);
      const model = 'model' in route ? route.model : new URL(path, 'http://x').searchParams.get('model');
      if (model !== null) expect(exported, path).toContain(model);
    }
  });
});

describe("the image's command line serves what the exporter writes", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unias-deploy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the healthcheck and the probes, and serves the model', async () => {
    const io = (name: string, shape: number[]) => ({ name, dtype: 'float32' as const, shape, batchAxis: 0 });
    await writeTritonFiles({
      repository: dir,
      name: 'unias',
      onnx: anomalyTestModel({ height: 16, width: 16 }),
      configText: tritonConfigText({ name: 'unias', inputs: [io('image', [1, 3, 16, 16])], outputs: [io('anomaly_map', [1, 1, 16, 16]), io('score', [1])] }),
    });
    const cmd = execForm(dockerfile[dockerfile.length - 1]!.find((i) => i.op === 'CMD')!.args, 'CMD');
    // The Dockerfile's arguments, with the test's folder mounted where the image expects /models.
    const options = serveOptions(cmd);
    const server = createServer({ ...options, modelRepository: dir, logLevel: 'silent', threads: 1 });
    const { url } = await server.listen(0, '127.0.0.1');
    try {
      for (const path of ['/v2/health/ready', unias.spec.predictor.containers[0].livenessProbe.httpGet.path, '/v2/models/unias/versions/1/ready']) {
        expect((await fetch(`${url}${path}`)).status, path).toBe(200);
      }
    } finally {
      await server.close();
    }
  });
});
