/**
 * Compute cost counted from a graph: 2 x the multiply-adds of its convolutions and matrix
 * products (the convention of the paper's GFLOP figures); elementwise ops, norms and resizes are
 * not counted.
 */
import { prune, type Graph } from '@unias/graph';

export interface FlopCount {
  /** Total FLOP of conv2d, convTranspose2d and matmul nodes. */
  readonly total: number;
  /** FLOP by part: "backbone", "features", "sem_seg_head.pixel_decoder", "sem_seg_head.predictor", "anomaly_map". */
  readonly byScope: Readonly<Record<string, number>>;
}

export function countFlops(graph: Graph): FlopCount {
  const g = prune(graph);
  let total = 0;
  const byScope: Record<string, number> = {};
  for (const n of g.nodes) {
    if (n.kind !== 'op') continue;
    let f = 0;
    if (n.op === 'conv2d') {
      const [, cig, kh, kw] = n.inputs[1]!.shape as [number, number, number, number];
      f = 2 * n.shape.reduce((a, d) => a * d, 1) * cig * kh * kw;
    } else if (n.op === 'convTranspose2d') {
      const [, cog, kh, kw] = n.inputs[1]!.shape as [number, number, number, number];
      f = 2 * n.inputs[0]!.shape.reduce((a, d) => a * d, 1) * cog * kh * kw;
    } else if (n.op === 'matmul') {
      const a = n.inputs[0]!.shape;
      f = 2 * n.shape.reduce((p, d) => p * d, 1) * a[a.length - 1]!;
    }
    if (f === 0) continue;
    total += f;
    const parts = n.scope.split('.');
    const key = parts[0] === 'sem_seg_head' ? parts.slice(0, 2).join('.') : parts[0] || '(top)';
    byScope[key] = (byScope[key] ?? 0) + f;
  }
  return { total, byScope };
}
