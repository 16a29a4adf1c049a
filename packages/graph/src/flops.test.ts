import { createGraph } from './builder.js';
import { describe, expect, it } from 'vitest';
import { countFlops } from './flops.js';

describe('countFlops', () => {
  it('counts 2 x multiply-adds of convs, transposed convs and matmuls (closed forms)', () => {
    const b = createGraph();
    const x = b.input('x', [2, 8, 10, 10]);
    const y = b.conv2d(x, b.input('w', [4, 4, 3, 3]), null, { padding: 1, groups: 2 }); // [2,4,10,10], 4*9 MACs each
    const t = b.convTranspose2d(y, b.input('wt', [4, 3, 2, 2]), null, {
      strides: [2, 2],
      pads: [0, 0, 0, 0],
      dilations: [1, 1],
      groups: 1,
      outputPadding: [0, 0],
    });
    const m = b.matmul(b.input('a', [3, 5, 7]), b.input('c', [7, 6])); // 3*5*6 outputs, 7 MACs each
    b.output('t', t);
    b.output('m', m);
    const f = countFlops(b.build());
    expect(f.conv).toBe(2 * (2 * 4 * 10 * 10) * (4 * 9) + 2 * (2 * 4 * 10 * 10) * (3 * 4));
    expect(f.matmul).toBe(2 * 3 * 5 * 6 * 7);
    expect(f.total).toBe(f.conv + f.matmul);
  });
});
