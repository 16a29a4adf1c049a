/** Compute cost of a UniAS graph, grouped the way the paper reports it (backbone, pixel decoder, predictor). */
import { countFlops as countGraphFlops, type FlopCount, type Graph } from '@unias/graph';

export type { FlopCount };

/** Groups: "backbone", "features", "sem_seg_head.pixel_decoder", "sem_seg_head.predictor", "anomaly_map". */
export function countModelFlops(graph: Graph): FlopCount {
  return countGraphFlops(graph, {
    groupBy: (scope) => {
      const parts = scope.split('.');
      return parts[0] === 'sem_seg_head' ? parts.slice(0, 2).join('.') : parts[0] || '(top)';
    },
  });
}
