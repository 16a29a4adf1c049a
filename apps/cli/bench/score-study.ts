/**
 * Eval-time study (docs/accuracy.md): how each model's anomaly map becomes an image score: the
 * maximum (the UniAS evaluation) against the mean of the k largest values, for several k, on the
 * same maps. Usage:
 *   pnpm --filter @unias/cli study:scores RUN_DIR[,RUN_DIR...] DATA_ROOT...
 */
import { loadDatasets } from '@unias/datasets';
import { createMetricsAccumulator, type ImageScoreRule } from '@unias/metrics';
import type { TensorData } from '@unias/graph';
import { loadStoredModel } from '@unias/detector';
import { resolve } from 'node:path';
import { openStudySession, printStudy, studyPaths, studyBatches } from './study-support.js';

const [, ...roots] = studyPaths();
const runPaths = process.argv[2]!.split(',').map((p) => resolve(process.env['INIT_CWD'] ?? process.cwd(), p));
const ks = [1, 16, 64, 256, 1024];
for (const runPath of runPaths) {
  const m = await loadStoredModel(runPath);
  const session = await openStudySession(m);
  const [H, W] = m.config.inputSize;
  const ds = await loadDatasets(roots.map((root) => ({ format: 'mvtec' as const, root })));
  const rules: Record<string, ImageScoreRule> = Object.fromEntries(
    ks.map((k) => [`${runPath.split('/').pop()}:top${k}`, k === 1 ? { kind: 'max' } : { kind: 'top-k-mean', k }]),
  );
  const accs = Object.fromEntries(Object.entries(rules).map(([name, rule]) => [name, createMetricsAccumulator({ imageScore: rule })]));
  for await (const batch of studyBatches(ds.samples, 'test', [H, W])) {
    const out = await session.run({ image: batch.images as TensorData<'float32'> });
    for (let i = 0; i < batch.images.shape[0]!; i++) {
      const map = Float32Array.from((out['anomaly_map']!.data as Float32Array).subarray(i * H * W, (i + 1) * H * W));
      const mask = (batch.masks.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W);
      for (const a of Object.values(accs)) a.add(batch.classNames[i]!, { scores: map, mask, height: H, width: W }, batch.paths[i]!);
    }
  }
  await session.dispose();
  printStudy(accs, { mean: true });
}
