/**
 * ORT's MatMul 512x512x512 on given threads: the machine's rate, against which the training
 * benches state their GFLOP/s. One run is under a millisecond, so a rate is the median of many.
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, createRng, type TensorData } from '@unias/graph';

const FLOP = 2 * 512 ** 3;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface MatmulProbe {
  /**
   * GFLOP/s from the median of the runs over `ms` milliseconds (at least `minRuns`), after
   * `warmup` untimed ones (right after other work, the first runs find cold caches and sleeping
   * threads: 15 runs read 221 GFLOP/s where 100 ms after 10 warm-up runs read 295).
   */
  rateOver(ms: number, minRuns: number, warmup?: number): Promise<number>;
  dispose(): Promise<void>;
}

export async function createMatmulProbe(threads: number): Promise<MatmulProbe> {
  const g = createGraph();
  g.output('y', g.matmul(g.input('a', [512, 512]), g.input('b', [512, 512])));
  const session = await (await createOnnxBackend({ intraOpNumThreads: threads })).prepare(g.build());
  const rng = createRng(3);
  const m = (): TensorData => ({ dtype: 'float32', shape: [512, 512], data: rng.fillUniform(new Float32Array(512 * 512), -1, 1) });
  const feeds = { a: m(), b: m() };
  return {
    rateOver: async (ms, minRuns, warmup = 0) => {
      for (let i = 0; i < warmup; i++) await session.run(feeds);
      const times: number[] = [];
      const start = performance.now();
      while (times.length < minRuns || performance.now() - start < ms) {
        const t = performance.now();
        await session.run(feeds);
        times.push(performance.now() - t);
      }
      return FLOP / median(times) / 1e6;
    },
    dispose: () => session.dispose(),
  };
}
