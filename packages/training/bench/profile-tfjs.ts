/**
 * Diagnostic: where one training step of the bench block goes on tfjs (kernel times from
 * tf.profile), for our step graph run by the interpreter. Prints the slowest kernels (stderr).
 *
 *   tsx --conditions=@unias/source bench/profile-tfjs.ts [tfjs-wasm|tfjs-cpu]
 */
import * as tf from '@tensorflow/tfjs';
import { activateRuntime, loadRuntime, runGraphTf, type TfjsRuntimeName } from '@unias/backend-tfjs';
import { createGraph, createRng, initParams, sizeOf } from '@unias/graph';
import { adamw, buildStepGraph, LOSS_OUTPUT } from '../src/index.js';
import { block } from './block.js';

async function main(): Promise<void> {
  const runtime = (process.argv[2] ?? 'tfjs-wasm') as TfjsRuntimeName;
  await activateRuntime(await loadRuntime(runtime));
  const g = createGraph({ training: true });
  g.output(LOSS_OUTPUT, block(g));
  const params = initParams(g.build(), 0);
  const step = buildStepGraph({ model: block, optimizer: adamw({ lr: 1e-3 }), clipNorm: 1 });
  const rng = createRng(1);
  const feeds: Record<string, tf.Tensor> = {};
  for (const [name, node] of [...step.graph.inputs, ...step.graph.params]) {
    const p = params.get(name);
    const data = p ? Float32Array.from(p.data) : rng.fillUniform(new Float32Array(sizeOf(node.shape)), 0.5, 1);
    feeds[name] = tf.tensor(data, [...node.shape]);
  }
  const outputs = [...step.graph.outputs.keys()];
  const run = () => {
    const out = runGraphTf(step.graph, feeds, undefined, { outputs });
    return Object.values(out);
  };
  tf.dispose(run());
  const t = performance.now();
  tf.dispose(run());
  process.stderr.write(`${runtime}: one step ${(performance.now() - t).toFixed(0)} ms\n`);
  const info = await tf.profile(run);
  const byKernel = new Map<string, number>();
  const rows: Array<[number, string]> = [];
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + ms);
    rows.push([ms, `${k.name} ${JSON.stringify(k.inputShapes)} -> ${JSON.stringify(k.outputShapes)}`]);
  }
  tf.dispose(info.result);
  const fmt = (xs: Array<[number, string]>) => xs.map(([ms, s]) => `${ms.toFixed(1).padStart(8)} ms  ${s}`).join('\n');
  process.stderr.write(
    `by kernel:\n${fmt(
      [...byKernel]
        .map(([k, v]) => [v, k] as [number, string])
        .sort((a, b) => b[0] - a[0])
        .slice(0, 20),
    )}\n\nslowest:\n${fmt(rows.sort((a, b) => b[0] - a[0]).slice(0, 25))}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
