/**
 * Diagnostic: three ways to write a 3x3 conv's weight gradient (4x128x28x28) in graph ops, timed
 * on ONNX Runtime side by side (stderr). Used to choose the layout in autodiff's windowCorrelation.
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, createRng, type Sym } from '@unias/graph';

const [N, C, H] = [4, 128, 28];
type Variant = (b: ReturnType<typeof createGraph>, x: Sym, dy: Sym) => Sym;

const variants: Record<string, Variant> = {
  // channels first, concat along axis 0 (whole slabs), GEMM with transposed cols
  cnhw: (b, x, dy) => {
    const p = b.pad(b.transpose(x, [1, 0, 2, 3]), [0, 0, 1, 1, 0, 0, 1, 1]);
    const pieces: Sym[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) pieces.push(b.slice(b.slice(p, 2, i, i + H), 3, j, j + H));
    const cols = b.reshape(b.concat(pieces, 0), [9 * C, N * H * H]);
    const a = b.reshape(b.transpose(dy, [1, 0, 2, 3]), [C, N * H * H]);
    return b.matmul(a, b.transpose(cols, [1, 0]));
  },
  // channels last, concat along the last axis, plain GEMM
  nhwc: (b, x, dy) => {
    const p = b.pad(b.transpose(x, [0, 2, 3, 1]), [0, 1, 1, 0, 0, 1, 1, 0]);
    const pieces: Sym[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) pieces.push(b.slice(b.slice(p, 1, i, i + H), 2, j, j + H));
    const cols = b.reshape(b.concat(pieces, 3), [N * H * H, 9 * C]);
    const a = b.reshape(b.transpose(dy, [1, 0, 2, 3]), [C, N * H * H]);
    return b.matmul(a, cols);
  },
  // calibration: the GEMM alone on ready-made operands of the same sizes
  gemm: (b, x, dy) => b.matmul(b.reshape(dy, [C, N * H * H]), b.reshape(b.concat([x, x, x, x, x, x, x, x, x], 1), [N * H * H, 9 * C])),
  // nine GEMMs on the shifted slices, no im2col matrix
  nine: (b, x, dy) => {
    const p = b.pad(b.transpose(x, [1, 0, 2, 3]), [0, 0, 1, 1, 0, 0, 1, 1]);
    const a = b.reshape(b.transpose(dy, [1, 0, 2, 3]), [C, N * H * H]);
    const outs: Sym[] = [];
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        const s = b.reshape(b.slice(b.slice(p, 2, i, i + H), 3, j, j + H), [C, N * H * H]);
        outs.push(b.reshape(b.matmul(a, b.transpose(s, [1, 0])), [C, C, 1]));
      }
    return b.concat(outs, 2);
  },
};

async function main(): Promise<void> {
  const backend = await createOnnxBackend();
  const rng = createRng(0);
  const data = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);
  const feeds = {
    x: { dtype: 'float32' as const, shape: [N, C, H, H], data: data(N * C * H * H) },
    dy: { dtype: 'float32' as const, shape: [N, C, H, H], data: data(N * C * H * H) },
  };
  const sessions = await Promise.all(
    Object.entries(variants).map(async ([name, fn]) => {
      const b = createGraph();
      b.output('w', fn(b, b.input('x', [N, C, H, H]), b.input('dy', [N, C, H, H])));
      return [name, await backend.prepare(b.build())] as const;
    }),
  );
  const times = new Map<string, number[]>();
  for (let round = 0; round < 12; round++)
    for (const [name, s] of sessions) {
      const t = performance.now();
      await s.run(feeds);
      if (round > 1) times.set(name, [...(times.get(name) ?? []), performance.now() - t]);
    }
  const flop = 2 * C * C * 9 * N * H * H;
  for (const [name, ts] of times) {
    const med = ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
    process.stderr.write(`${name.padEnd(6)} median ${med.toFixed(2)} ms  ${(flop / med / 1e6).toFixed(1)} GFLOP/s\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
