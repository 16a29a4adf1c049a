/** Diagnostic: space-to-depth [N, C, P*k, Q*k] -> [N, C*k*k, P*Q] as one 6-D transpose or two single-axis moves (ORT, stderr). */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, createRng, type Sym } from '@unias/graph';

const [N, C, P, k] = [8, 32, 16, 8];
const variants: Record<string, (b: ReturnType<typeof createGraph>, x: Sym) => Sym> = {
  sixD: (b, x) => b.reshape(b.transpose(b.reshape(x, [N, C, P, k, P, k]), [0, 1, 3, 5, 2, 4]), [N, C * k * k, P * P]),
  twoMoves: (b, x) => {
    const rows = b.transpose(b.reshape(x, [N * C, P, k, P * k]), [0, 2, 1, 3]); // [N*C, kh, P, Q*kw]
    return b.reshape(b.transpose(b.reshape(rows, [N * C * k, P * P, k]), [0, 2, 1]), [N, C * k * k, P * P]);
  },
  // im2col as before: channels-first, one strided slice per window offset, concat
  slices: (b, x) => {
    const cf = b.transpose(x, [1, 0, 2, 3]);
    const parts: Sym[] = [];
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) parts.push(b.slice(b.slice(cf, 2, i, P * k, k), 3, j, P * k, k));
    return b.reshape(b.concat(parts, 0), [N, C * k * k, P * P]);
  },
  movesB: (b, x) => {
    const inner = b.transpose(b.reshape(x, [N * C * P * k, P, k]), [0, 2, 1]); // [.., kw, Q]
    return b.reshape(b.transpose(b.reshape(inner, [N * C, P, k * k, P]), [0, 2, 1, 3]), [N, C * k * k, P * P]);
  },
};
async function main(): Promise<void> {
  const backend = await createOnnxBackend({ intraOpNumThreads: Number(process.env['THREADS'] ?? 2) });
  const x = { dtype: 'float32' as const, shape: [N, C, P * k, P * k], data: createRng(0).fillUniform(new Float32Array(N * C * P * k * P * k), -1, 1) };
  const sessions = await Promise.all(
    Object.entries(variants).map(async ([name, fn]) => {
      const b = createGraph();
      b.output('y', fn(b, b.input('x', x.shape)));
      return [name, await backend.prepare(b.build())] as const;
    }),
  );
  const outs = await Promise.all(sessions.map(([, s]) => s.run({ x })));
  const [a, c] = outs.map((o) => o['y']!.data);
  if (!a!.every((v, i) => v === c![i])) throw new Error('variants differ');
  if (!outs[3]!['y']!.data.every((v, i) => v === a![i])) throw new Error('movesB differs');
  const times = new Map<string, number[]>();
  for (let r = 0; r < 12; r++)
    for (const [name, s] of sessions) {
      const t = process.cpuUsage();
      await s.run({ x });
      const d = process.cpuUsage(t);
      times.set(name, [...(times.get(name) ?? []), (d.user + d.system) / 1000]);
    }
  for (const [name, ts] of times) process.stderr.write(`${name} median ${ts.sort((p, q) => p - q)[6]!.toFixed(2)} cpu-ms\n`);
}
main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
