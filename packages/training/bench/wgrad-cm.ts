/**
 * Diagnostic: a 3x3 conv's weight gradient as autodiff writes it against an im2col with the windows
 * stacked per source channel (the GEMM then gives the weight in place: no move after it), timed
 * side by side on ONNX Runtime.  tsx --conditions=@unias/source bench/wgrad-cm.ts N Cs Ca H
 * (Autodiff itself takes the channel-major form where the weight outweighs the maps, e.g. 256
 * channels at 14x14 for one image: there both sides are the same formulation.)
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, createRng, grad, type Sym } from '@unias/graph';

const [N, Cs, Ca, H] = process.argv.slice(2, 6).map(Number) as [number, number, number, number];
const rng = createRng(1);
const feeds = {
  x: { dtype: 'float32' as const, shape: [N, Cs, H, H], data: rng.fillUniform(new Float32Array(N * Cs * H * H), -1, 1) },
  dy: { dtype: 'float32' as const, shape: [N, Ca, H, H], data: rng.fillUniform(new Float32Array(N * Ca * H * H), -1, 1) },
};
function mainRule() {
  const b = createGraph();
  const x = b.input('x', [N, Cs, H, H]);
  const dy = b.input('dy', [N, Ca, H, H]);
  const w = b.input('w', [Ca, Cs, 3, 3]);
  const y = b.conv2d(x, w, null, { padding: 1 });
  const [dw] = grad(b, y, [w], { seed: dy });
  b.output('dw', dw!);
  return b.build();
}
function channelMajor() {
  const b = createGraph();
  const x = b.input('x', [N, Cs, H, H]);
  const dy = b.input('dy', [N, Ca, H, H]);
  const src = N === 1 ? b.reshape(x, [Cs, 1, H, H]) : b.transpose(x, [1, 0, 2, 3]);
  const p = b.pad(src, [0, 0, 1, 1, 0, 0, 1, 1]);
  const pieces: Sym[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) pieces.push(b.reshape(b.slice(b.slice(p, 2, i, i + H), 3, j, j + H), [Cs, 1, N * H * H]));
  const cols = b.reshape(b.concat(pieces, 1), [Cs * 9, N * H * H]);
  const a = N === 1 ? b.reshape(dy, [Ca, H * H]) : b.reshape(b.transpose(dy, [1, 0, 2, 3]), [Ca, N * H * H]);
  b.output('dw', b.reshape(b.matmul(a, b.transpose(cols, [1, 0])), [Ca, Cs, 3, 3]));
  return b.build();
}
const backend = await createOnnxBackend({ intraOpNumThreads: 2 });
const main = await backend.prepare(mainRule());
const cm = await backend.prepare(channelMajor());
const a = (await main.run(feeds))['dw']!.data as Float32Array;
const c = (await cm.run(feeds))['dw']!.data as Float32Array;
let err = 0,
  mx = 0;
for (let i = 0; i < a.length; i++) {
  err = Math.max(err, Math.abs(a[i]! - c[i]!));
  mx = Math.max(mx, Math.abs(a[i]!));
}
const ta: number[] = [],
  tc: number[] = [];
for (let r = 0; r < 200; r++) {
  let t = performance.now();
  await main.run(feeds);
  ta.push(performance.now() - t);
  t = performance.now();
  await cm.run(feeds);
  tc.push(performance.now() - t);
}
const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1]!;
console.log(
  `N${N} Cs${Cs} Ca${Ca} H${H}: main ${med(ta).toFixed(3)} ms (min ${Math.min(...ta).toFixed(3)}), channel-major ${med(tc).toFixed(3)} ms (min ${Math.min(...tc).toFixed(3)}), ratio ${(med(tc) / med(ta)).toFixed(2)}, max diff ${(err / mx).toExponential(1)}`,
);
