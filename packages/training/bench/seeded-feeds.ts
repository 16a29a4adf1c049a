/** The feeds the preset benches give a training step: uniform in [-1, 1] from Rng(2), in feed order. */
import { createRng, sizeOf, type Graph, type TensorData } from '@unias/graph';

export function seededFeeds(graph: Graph, names: readonly string[]): Record<string, TensorData> {
  const rng = createRng(2);
  const feeds: Record<string, TensorData> = {};
  for (const n of names) {
    const node = graph.inputs.get(n);
    if (!node) throw new Error(`seededFeeds: "${n}" is not an input of the graph`);
    feeds[n] = { dtype: 'float32', shape: node.shape, data: rng.fillUniform(new Float32Array(sizeOf(node.shape)), -1, 1) };
  }
  return feeds;
}
