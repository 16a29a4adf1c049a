import { createGraph } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { batchAxes, expandIntroducesBatch, reshapeBatch } from './batch-axis.js';

describe('reshapeBatch', () => {
  it('keeps the batch where the target copies it, writing 0 for an explicit size', () => {
    expect(reshapeBatch([2, 3, 4], [2, 12], [2, 12], 0)).toEqual({ axis: 0, entry: 0 });
    expect(reshapeBatch([2, 3, 4], [2, 12], [0, -1], 0)).toEqual({ axis: 0, entry: 0 });
    expect(reshapeBatch([2, 12], [2, 3, 4], [2, 3, 4], 0)).toEqual({ axis: 0, entry: 0 });
    expect(reshapeBatch([3, 2, 4], [3, 2, 2, 2], [3, 2, 2, 2], 1)).toEqual({ axis: 1, entry: 0 });
  });

  it('infers the batch with -1 when it moves to another index', () => {
    expect(reshapeBatch([1, 2, 4], [2, 4], [2, 4], 1)).toEqual({ axis: 0, entry: -1 });
    expect(reshapeBatch([2, 3, 4], [2, 12], [-1, 12], 0)).toEqual({ axis: 0, entry: -1 });
  });

  it('gives up when the reshape folds the batch into another dim', () => {
    expect(reshapeBatch([2, 3, 4], [6, 4], [-1, 4], 0)).toBeNull();
    expect(reshapeBatch([3, 2, 4], [6, 4], [6, 4], 1)).toBeNull();
    expect(reshapeBatch([2, 3, 4], [24], [-1], 0)).toBeNull();
  });
});

describe('expandIntroducesBatch', () => {
  it('is true only for a size-1 or missing dim 0 expanded to the batch size', () => {
    const b = createGraph();
    const q = b.param('q', [1, 5], { kind: 'zeros' });
    const v = b.param('v', [5], { kind: 'zeros' });
    expect(expandIntroducesBatch(q, [3, 5], 3)).toBe(true);
    expect(expandIntroducesBatch(v, [3, 5], 3)).toBe(true);
    expect(expandIntroducesBatch(q, [4, 5], 3)).toBe(false);
    expect(expandIntroducesBatch(q, [1, 5], 1)).toBe(false);
  });
});

describe('batchAxes', () => {
  it('follows the batch through transposes, reductions, matmuls and reshapes', () => {
    const b = createGraph();
    const x = b.input('x', [2, 3, 4]);
    const t = b.transpose(x, [1, 0, 2]); // batch at 1
    const r = b.sum(t, [0]); // [2, 4], batch at 0
    const gone = b.sum(x, [0]); // [3, 4]
    const flat = b.reshape(x, [2, 12]);
    const rows = b.matmul(flat, b.param('w', [12, 5], { kind: 'zeros' })); // [2,5]: batch in the rows
    const cols = b.matmul(b.param('v', [5, 12], { kind: 'zeros' }), b.transpose(flat, [1, 0])); // [5,2]: in the columns
    const contracted = b.matmul(b.param('u', [4, 2], { kind: 'zeros' }), flat); // [4,12]: summed over
    const folded = b.reshape(x, [6, 4]);
    const scalar = b.meanAll(x);
    const axes = batchAxes(b.build());
    expect(axes.get(t.id)).toBe(1);
    expect(axes.get(r.id)).toBe(0);
    expect(axes.get(gone.id)).toBeNull();
    expect(axes.get(flat.id)).toBe(0);
    expect(axes.get(rows.id)).toBe(0);
    expect(axes.get(cols.id)).toBe(1);
    expect(axes.get(contracted.id)).toBeNull();
    expect(axes.get(folded.id)).toBeNull();
    expect(axes.get(scalar.id)).toBeNull();
  });
});
