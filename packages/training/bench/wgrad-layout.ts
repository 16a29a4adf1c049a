/**
 * Diagnostic: what the last layout move of a weight gradient costs in ORT, by permutation (stderr).
 * Each transpose feeds a 4-element slice so that only the transpose is timed (a graph output would
 * be copied into a fresh ArrayBuffer, which costs more than the move itself).
 *
 *   tsx --conditions=@unias/source bench/wgrad-layout.ts
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, createRng } from '@unias/graph';

const cases: Array<[string, number[], number[]]> = [
  // a 3x3 conv's weight gradient, 256 -> 256 channels
  ['[kh, Ca, kw, Cs] -> [Ca, Cs, kh, kw] (was)', [3, 256, 3, 256], [1, 3, 0, 2]],
  ['[Ca, kh*kw, Cs] -> [Ca, Cs, kh*kw] (now)', [256, 9, 256], [0, 2, 1]],
  ['[Ca, Cs, kh, kw] -> [Cs, Ca, kh, kw] (adjoint weight)', [256, 256, 3, 3], [1, 0, 2, 3]],
  // the paper preset's 8x8 stride-8 patch embedding at batch 8: kw out of the patches
  ['[N*Cs*kh, P*Q, kw] -> [.., kw, P*Q] (was)', [16384, 196, 8], [0, 2, 1]],
  ['[N, Cs*kh*P*Q, kw] -> [N, kw, ..] (now)', [8, 401408, 8], [0, 2, 1]],
  ['[Ca, kw, Cs*kh] -> [Ca, Cs*kh, kw] (now, after the GEMM)', [512, 8, 2048], [0, 2, 1]],
];

async function main(): Promise<void> {
  const backend = await createOnnxBackend({ intraOpNumThreads: Number(process.env['THREADS'] ?? 2) });
  const runs = [];
  for (const [name, shape, perm] of cases) {
    const n = shape.reduce((a, c) => a * c, 1);
    const x = { dtype: 'float32' as const, shape, data: createRng(0).fillUniform(new Float32Array(n), -1, 1) };
    const b = createGraph();
    b.output('y', b.slice(b.reshape(b.transpose(b.input('x', shape), perm), [n]), 0, 0, 4));
    runs.push({ name, n, x, session: await backend.prepare(b.build()), ms: [] as number[] });
  }
  for (let r = 0; r < 60; r++)
    for (const c of runs) {
      const t = performance.now();
      await c.session.run({ x: c.x });
      c.ms.push(performance.now() - t);
    }
  for (const c of runs) {
    const ms = c.ms.sort((p, q) => p - q);
    process.stderr.write(`${c.name.padEnd(56)} median ${ms[30]!.toFixed(2)} ms, min ${ms[0]!.toFixed(2)} ms (${((ms[0]! * 1e6) / c.n).toFixed(2)} ns/value)\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
