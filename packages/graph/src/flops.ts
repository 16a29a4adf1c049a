/**
 * Compute cost counted from a graph: 2 x the multiply-adds of its convolutions and matrix
 * products (the convention of the paper's GFLOP figures). Elementwise ops, norms and resizes are
 * memory traffic, a few percent of a conv net's arithmetic, and are not counted.
 */
import { prune, type Graph } from './graph.js';
import { sizeOf } from './tensor-data.js';

export interface FlopCount {
  readonly conv: number;
  readonly matmul: number;
  readonly total: number;
  /** FLOP by group of op scopes (see `groupBy`). */
  readonly byScope: Readonly<Record<string, number>>;
}

export interface FlopOptions {
  /** Count only what these outputs need (default: every output). */
  readonly outputs?: readonly string[];
  /** Group key of an op's scope (default: its first segment, "(top)" when unscoped). */
  readonly groupBy?: (scope: string) => string;
}

export function countFlops(graph: Graph, options: FlopOptions = {}): FlopCount {
  const groupBy = options.groupBy ?? ((scope: string) => scope.split('.')[0] || '(top)');
  let conv = 0;
  let matmul = 0;
  const byScope: Record<string, number> = {};
  for (const n of prune(graph, options.outputs).nodes) {
    if (n.kind !== 'op') continue;
    let f = 0;
    switch (n.op) {
      case 'conv2d': {
        // each output element: Ci/g * kh * kw multiply-adds
        const w = n.inputs[1]!.shape;
        f = 2 * sizeOf(n.shape) * w[1]! * w[2]! * w[3]!;
        conv += f;
        break;
      }
      case 'convTranspose2d': {
        // each input element spreads over Co/g * kh * kw outputs
        const w = n.inputs[1]!.shape;
        f = 2 * sizeOf(n.inputs[0]!.shape) * w[1]! * w[2]! * w[3]!;
        conv += f;
        break;
      }
      case 'matmul': {
        const a = n.inputs[0]!.shape;
        f = 2 * sizeOf(n.shape) * a[a.length - 1]!;
        matmul += f;
        break;
      }
      default:
        break;
    }
    if (f > 0) {
      const key = groupBy(n.scope);
      byScope[key] = (byScope[key] ?? 0) + f;
    }
  }
  return { conv, matmul, total: conv + matmul, byScope };
}
