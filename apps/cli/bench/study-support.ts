/** What the eval-time study scripts share: their paths, opening a model, level maps, and the JSON lines they print. */
import { resolve } from 'node:path';
import { createBatchLoader, createSampleReader, type Sample } from '@unias/datasets';
import type { TensorData } from '@unias/graph';
import type { MetricValues, MetricsAccumulator } from '@unias/metrics';
import { bindWeights, buildInferenceGraph } from '@unias/model';
import { loadStoredModel, openBackend } from '@unias/detector';

/** The command's paths as the caller typed them (pnpm --filter runs it in apps/cli; INIT_CWD is where pnpm was called). */
export function studyPaths(): string[] {
  return process.argv.slice(2).map((p) => resolve(process.env['INIT_CWD'] ?? process.cwd(), p));
}

type Stored = Awaited<ReturnType<typeof loadStoredModel>>;
type Session = Awaited<ReturnType<Awaited<ReturnType<typeof openBackend>>['prepare']>>;

/** An onnxruntime session of a stored model, batch-generic; `postGaussian` is an eval-time switch on the same weights. */
export async function openStudySession(m: Stored, options: { debugOutputs?: boolean; postGaussian?: boolean } = {}): Promise<Session> {
  const backend = await openBackend('onnx', { threads: null });
  const graph = buildInferenceGraph(options.postGaussian === undefined ? m.config : { ...m.config, postGaussian: options.postGaussian }, {
    debugOutputs: options.debugOutputs ?? false,
  });
  return backend.prepare(graph, { params: bindWeights(graph, m.params), dynamicBatch: true });
}

/** Image `i`'s map of each of `levels` decoder levels (debug outputs `level_map.<l>`), with their size. */
export function levelMapsAt(out: Record<string, TensorData>, i: number, levels: number): { maps: Float32Array[]; h: number; w: number } {
  const shape = out['level_map.0']!.shape;
  const [h, w] = [shape[2]!, shape[3]!];
  const maps = Array.from({ length: levels }, (_, l) => Float32Array.from((out[`level_map.${l}`]!.data as Float32Array).subarray(i * h * w, (i + 1) * h * w)));
  return { maps, h, w };
}

/** One JSON line per combination and class (and the mean over classes when asked). */
export function printStudy(accs: Record<string, MetricsAccumulator>, options: { mean?: boolean } = {}): void {
  const line = (combo: string, cls: string, v: MetricValues) =>
    console.log(JSON.stringify({ combo, cls, pixel_auroc: v.pixel_auroc, pixel_ap: v.pixel_ap, image_auroc: v.image_auroc }));
  for (const [k, a] of Object.entries(accs)) {
    const r = a.compute();
    for (const [cls, v] of Object.entries(r.classes)) line(k, cls, v);
    if (options.mean) line(k, 'MEAN', r.mean);
  }
}

/** Batches of 8 of one split's images at the model's input size, in order, with uint8 masks. */
export function studyBatches(samples: readonly Sample[], split: 'train' | 'test', [height, width]: readonly number[]) {
  const reader = createSampleReader({ size: { width: width!, height: height! }, normalize: 'none' });
  return createBatchLoader({ samples: samples.filter((s) => s.split === split), reader, batchSize: 8, shuffle: false, maskDtype: 'uint8' }).epoch();
}
