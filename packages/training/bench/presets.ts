/**
 * The UniAS presets' training step (head on cached backbone features, dropout and jitter on,
 * AdamW + clipping) on ONNX Runtime.
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createRng, initParams, sizeOf, type TensorData } from '@unias/graph';
import { buildTrainingGraph, presetConfig, type PresetName } from '@unias/model';
import { adamw, countFlops, createTrainingStep } from '../src/index.js';

export interface PresetTiming {
  readonly batch: number;
  readonly params: number;
  readonly step_graph_nodes: number;
  readonly gflop_forward: number;
  readonly ort_prepare_ms: number;
  readonly ort_step_ms: number;
  readonly ort_img_per_s: number;
  readonly ort_gflops_3x_forward: number;
}

const round = (v: number, digits = 3) => Number(v.toPrecision(digits));

export async function timePreset(name: PresetName, batch: number, steps: number, log: (m: string) => void, layout: 'flat' | 'per-param' = 'flat'): Promise<PresetTiming> {
  const graph = buildTrainingGraph(presetConfig(name), { batchSize: batch });
  const params = initParams(graph, 0);
  const t0 = performance.now();
  const trainer = await createTrainingStep({ model: graph, params, optimizer: adamw({ lr: 1e-4, weightDecay: 1e-4 }), clipNorm: 0.1, backend: await createOnnxBackend(), seed: 1, layout });
  const prepareMs = performance.now() - t0;
  const rng = createRng(2);
  const feeds: Record<string, TensorData> = {};
  for (const n of trainer.feedNames) {
    const node = graph.inputs.get(n)!;
    feeds[n] = { dtype: 'float32', shape: node.shape, data: rng.fillUniform(new Float32Array(sizeOf(node.shape)), -1, 1) };
  }
  await trainer.step(feeds);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    const r = await trainer.step(feeds);
    times.push(performance.now() - s);
    log(`preset ${name} (${layout}): step ${i + 1}/${steps} ${times.at(-1)!.toFixed(0)} ms (loss ${r.loss.toFixed(4)})`);
  }
  await trainer.dispose();
  const ms = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  const forward = countFlops(graph).total;
  return {
    batch,
    params: [...graph.params.values()].reduce((a, p) => a + sizeOf(p.shape), 0),
    step_graph_nodes: trainer.graph.nodes.length,
    gflop_forward: round(forward / 1e9),
    ort_prepare_ms: round(prepareMs),
    ort_step_ms: round(ms),
    ort_img_per_s: round((batch * 1000) / ms),
    ort_gflops_3x_forward: round((3 * forward) / ms / 1e6),
  };
}
