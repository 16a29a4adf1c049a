/**
 * Diagnostic: ways to write a 3x3 conv's weight gradient at a given shape, timed on ONNX Runtime
 * side by side (stderr).  tsx --conditions=@unias/source bench/wgrad-shapes.ts N Cs Ca H
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, createRng, type Sym } from '@unias/graph';

const [N, Cs, Ca, H] = process.argv.slice(2, 6).map(Number) as [number, number, number, number];
type B = ReturnType<typeof createGraph>;
type Variant = (b: B, x: Sym, dy: Sym) => Sym;
const K = 9;
const sl = (b: B, p: Sym, i: number, j: number) => b.slice(b.slice(p, 2, i, i + H), 3, j, j + H);

const variants: Record<string, Variant> = {
  current: (b, x, dy) => {
    const p = b.pad(b.transpose(x, [1, 0, 2, 3]), [0, 0, 1, 1, 0, 0, 1, 1]);
    const pieces: Sym[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) pieces.push(sl(b, p, i, j));
    const cols = b.reshape(b.concat(pieces, 0), [K * Cs, N * H * H]);
    const a = b.reshape(b.transpose(dy, [1, 0, 2, 3]), [Ca, N * H * H]);
    return b.matmul(a, b.transpose(cols, [1, 0]));
  },
  nine: (b, x, dy) => {
    const p = b.pad(b.transpose(x, [1, 0, 2, 3]), [0, 0, 1, 1, 0, 0, 1, 1]);
    const a = b.reshape(b.transpose(dy, [1, 0, 2, 3]), [Ca, N * H * H]);
    const outs: Sym[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) outs.push(b.reshape(b.matmul(a, b.transpose(b.reshape(sl(b, p, i, j), [Cs, N * H * H]), [1, 0])), [Ca, Cs, 1]));
    return b.concat(outs, 2);
  },
  // batch-major: no transposes; nine batched GEMMs [N, Ca, PQ] x [N, PQ, Cs] then a sum over N
  nineBatched: (b, x, dy) => {
    const p = b.pad(x, [0, 0, 1, 1, 0, 0, 1, 1]);
    const a = b.reshape(dy, [N, Ca, H * H]);
    const outs: Sym[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) outs.push(b.reshape(b.matmul(a, b.transpose(b.reshape(sl(b, p, i, j), [N, Cs, H * H]), [0, 2, 1])), [N, Ca, Cs, 1]));
    return b.sum(b.concat(outs, 3), [0], false);
  },
  // batch-major im2col: concat along channels, one batched GEMM, sum over N
  concatBatched: (b, x, dy) => {
    const p = b.pad(x, [0, 0, 1, 1, 0, 0, 1, 1]);
    const pieces: Sym[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) pieces.push(sl(b, p, i, j));
    const cols = b.reshape(b.concat(pieces, 1), [N, K * Cs, H * H]);
    return b.sum(b.matmul(b.reshape(dy, [N, Ca, H * H]), b.transpose(cols, [0, 2, 1])), [0], false);
  },
  // im2col as one Conv with one-hot 3x3 kernels per channel plane: [N*Cs, 1, H, W] -> [N*Cs, 9, H, W]
  onehotConv: (b, x, dy) => {
    const onehot = new Float32Array(81);
    for (let k = 0; k < 9; k++) onehot[k * 9 + k] = 1;
    const cols = b.conv2d(b.reshape(x, [N * Cs, 1, H, H]), b.constant(onehot, [9, 1, 3, 3]), null, { padding: 1 });
    return b.sum(b.matmul(b.reshape(dy, [N, Ca, H * H]), b.transpose(b.reshape(cols, [N, Cs * 9, H * H]), [0, 2, 1])), [0], false);
  },
  onehotConvT: (b, x, dy) => {
    const onehot = new Float32Array(81);
    for (let k = 0; k < 9; k++) onehot[k * 9 + k] = 1;
    const cols = b.conv2d(b.reshape(x, [N * Cs, 1, H, H]), b.constant(onehot, [9, 1, 3, 3]), null, { padding: 1 });
    return b.sum(b.matmul(b.reshape(cols, [N, Cs * 9, H * H]), b.transpose(b.reshape(dy, [N, Ca, H * H]), [0, 2, 1])), [0], false);
  },
  onehotOnly: (b, x, dy) => {
    const onehot = new Float32Array(81);
    for (let k = 0; k < 9; k++) onehot[k * 9 + k] = 1;
    return b.add(b.slice(b.reshape(dy, [-1]), 0, 0, 1), b.conv2d(b.reshape(x, [N * Cs, 1, H, H]), b.constant(onehot, [9, 1, 3, 3]), null, { padding: 1 }));
  },
  nineBatchedT: (b, x, dy) => {
    const p = b.pad(x, [0, 0, 1, 1, 0, 0, 1, 1]);
    const a = b.transpose(b.reshape(dy, [N, Ca, H * H]), [0, 2, 1]);
    const outs: Sym[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) outs.push(b.reshape(b.matmul(b.reshape(sl(b, p, i, j), [N, Cs, H * H]), a), [N, Cs, Ca, 1]));
    return b.sum(b.concat(outs, 3), [0], false);
  },
  // row shifts on dy, column shifts on x: one [N, 3Ca, L] x [N, L, 3C] GEMM gives exactly the 9 blocks
  rowcolBatched: (b, x, dy) => {
    const xp = b.pad(x, [0, 0, 1, 1, 0, 0, 1, 1]); // [N, Cs, H+2, W+2]
    const xs: Sym[] = [];
    for (let j = 0; j < 3; j++) xs.push(b.slice(xp, 3, j, j + H));
    const ds: Sym[] = [];
    for (let i = 0; i < 3; i++) ds.push(b.pad(dy, [0, 0, i, 0, 0, 0, 2 - i, 0]));
    const X = b.reshape(b.concat(xs, 1), [N, 3 * Cs, (H + 2) * H]);
    const D = b.reshape(b.concat(ds, 1), [N, 3 * Ca, (H + 2) * H]);
    const g = b.sum(b.matmul(D, b.transpose(X, [0, 2, 1])), [0], false); // [3Ca, 3Cs]
    return b.transpose(b.reshape(g, [3, Ca, 3, Cs]), [1, 3, 0, 2]);
  },
  rowcolCF: (b, x, dy) => {
    const xp = b.pad(b.transpose(x, [1, 0, 2, 3]), [0, 0, 1, 1, 0, 0, 1, 1]);
    const xs: Sym[] = [];
    for (let j = 0; j < 3; j++) xs.push(b.slice(xp, 3, j, j + H));
    const dcf = b.transpose(dy, [1, 0, 2, 3]);
    const ds: Sym[] = [];
    for (let i = 0; i < 3; i++) ds.push(b.pad(dcf, [0, 0, i, 0, 0, 0, 2 - i, 0]));
    const X = b.reshape(b.concat(xs, 0), [3 * Cs, N * (H + 2) * H]);
    const D = b.reshape(b.concat(ds, 0), [3 * Ca, N * (H + 2) * H]);
    const g = b.matmul(D, b.transpose(X, [1, 0]));
    return b.transpose(b.reshape(g, [3, Ca, 3, Cs]), [1, 3, 0, 2]);
  },
  // the correlation as one Conv: x channels-first as the batch, dy as a PxQ kernel
  convBigKernel: (b, x, dy) => {
    const p = b.pad(b.transpose(x, [1, 0, 2, 3]), [0, 0, 1, 1, 0, 0, 1, 1]); // [Cs, N, H+2, W+2]
    const w = b.transpose(dy, [1, 0, 2, 3]); // [Ca, N, P, Q]
    return b.conv2d(p, w); // [Cs, Ca, 3, 3]
  },
  // calibration: forward conv of the same size
  forwardConv: (b, x, dy) => b.conv2d(x, b.reshape(b.slice(b.reshape(dy, [-1]), 0, 0, Ca * Cs * 9), [Ca, Cs, 3, 3]), null, { padding: 1 }),
};

async function main(): Promise<void> {
  const backend = await createOnnxBackend({ intraOpNumThreads: Number(process.env['THREADS'] ?? 2) });
  const rng = createRng(0);
  const data = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);
  const feeds = {
    x: { dtype: 'float32' as const, shape: [N, Cs, H, H], data: data(N * Cs * H * H) },
    dy: { dtype: 'float32' as const, shape: [N, Ca, H, H], data: data(N * Ca * H * H) },
  };
  const only = process.env['VARIANTS']?.split(',');
  const sessions = await Promise.all(
    Object.entries(variants)
      .filter(([n]) => !only || only.includes(n))
      .map(async ([name, fn]) => {
        const b = createGraph();
        b.output('w', fn(b, b.input('x', [N, Cs, H, H]), b.input('dy', [N, Ca, H, H])));
        return [name, await backend.prepare(b.build())] as const;
      }),
  );
  const times = new Map<string, number[]>();
  for (let round = 0; round < 10; round++)
    for (const [name, s] of sessions) {
      // CPU time is robust to other processes on a shared machine (1 thread); wall time shows the threading
      const wall = process.env['WALL'] === '1';
      const t = process.cpuUsage();
      const w = performance.now();
      await s.run(feeds);
      const d = process.cpuUsage(t);
      if (round > 1) times.set(name, [...(times.get(name) ?? []), wall ? performance.now() - w : (d.user + d.system) / 1000]);
    }
  const flop = 2 * Ca * Cs * 9 * N * H * H;
  for (const [name, ts] of times) {
    const med = ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
    process.stderr.write(
      `${name.padEnd(14)} median ${med.toFixed(2)} ${process.env['WALL'] === '1' ? 'wall' : 'cpu'}-ms  ${(flop / med / 1e6).toFixed(1)} GFLOP/s\n`,
    );
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
