/**
 * FLOPs of a graph as benchmarks count them: 2 x the multiply-adds of its convolutions and matrix
 * products (everything else is memory traffic, a few percent of a conv net's arithmetic).
 */
import { prune, sizeOf, type Graph } from '@unias/graph';

export interface FlopCount {
  readonly conv: number;
  readonly matmul: number;
  readonly total: number;
}

export function countFlops(graph: Graph, outputs?: readonly string[]): FlopCount {
  let conv = 0;
  let matmul = 0;
  for (const n of prune(graph, outputs).nodes) {
    if (n.kind !== 'op') continue;
    switch (n.op) {
      case 'conv2d': {
        // each output element: Ci/g * kh * kw multiply-adds
        const w = n.inputs[1]!.shape;
        conv += 2 * sizeOf(n.shape) * w[1]! * w[2]! * w[3]!;
        break;
      }
      case 'convTranspose2d': {
        // each input element spreads over Co/g * kh * kw outputs
        const w = n.inputs[1]!.shape;
        conv += 2 * sizeOf(n.inputs[0]!.shape) * w[1]! * w[2]! * w[3]!;
        break;
      }
      case 'matmul': {
        const a = n.inputs[0]!.shape;
        matmul += 2 * sizeOf(n.shape) * a[a.length - 1]!;
        break;
      }
      default:
        break;
    }
  }
  return { conv, matmul, total: conv + matmul };
}
