/**
 * Diagnostic: a stride-1 3x3 conv's input gradient (4x128x28x28) as ConvTranspose with the forward
 * weight, or as Conv with the weight transposed and flipped, timed on ONNX Runtime side by side.
 *   tsx --conditions=@unias/source bench/dgrad-variants.ts [N C H] (default 4 128 28)
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, createRng, type Sym } from '@unias/graph';

const [N, C, H] = (process.argv.length > 4 ? process.argv.slice(2, 5).map(Number) : [4, 128, 28]) as [number, number, number];

async function main(): Promise<void> {
  const backend = await createOnnxBackend();
  const rng = createRng(0);
  const data = (n: number) => rng.fillUniform(new Float32Array(n), -1, 1);
  const feeds = {
    dy: { dtype: 'float32' as const, shape: [N, C, H, H], data: data(N * C * H * H) },
    w: { dtype: 'float32' as const, shape: [C, C, 3, 3], data: data(C * C * 9) },
  };
  const build = (fn: (b: ReturnType<typeof createGraph>, dy: Sym, w: Sym) => Sym) => {
    const b = createGraph();
    b.output('dx', fn(b, b.input('dy', [N, C, H, H]), b.input('w', [C, C, 3, 3])));
    return backend.prepare(b.build());
  };
  const flipMatrix = new Float32Array(81);
  for (let k = 0; k < 9; k++) flipMatrix[k * 9 + (8 - k)] = 1;
  const sessions = {
    convTranspose: await build((b, dy, w) =>
      b.convTranspose2d(dy, w, null, { strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], groups: 1, outputPadding: [0, 0] }),
    ),
    convFlipped: await build((b, dy, w) => {
      const flipped = b.reshape(b.matmul(b.reshape(b.transpose(w, [1, 0, 2, 3]), [C * C, 9]), b.constant(flipMatrix, [9, 9])), [C, C, 3, 3]);
      return b.conv2d(dy, flipped, null, { padding: 1 });
    }),
  };
  const times = new Map<string, number[]>();
  for (let round = 0; round < 14; round++)
    for (const [name, s] of Object.entries(sessions)) {
      const t = performance.now();
      await s.run(feeds);
      if (round > 1) times.set(name, [...(times.get(name) ?? []), performance.now() - t]);
    }
  const flop = 2 * C * C * 9 * N * H * H;
  for (const [name, ts] of times) {
    const med = ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
    process.stderr.write(`${name.padEnd(14)} median ${med.toFixed(2)} ms  ${(flop / med / 1e6).toFixed(1)} GFLOP/s\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
