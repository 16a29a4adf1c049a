// The README's first command. Until the unias CLI exists this runs a small end-to-end example:
// it builds a graph with the shared model definition and reports what it holds.
import { createGraph, countParams, initParams } from '@unias/graph';

const b = createGraph();
const x = b.input('image', [1, 3, 32, 32]);
const y = b.within('stem', () => {
  const w = b.param('weight', [16, 3, 3, 3], { kind: 'kaimingUniform', a: Math.sqrt(5) });
  return b.gelu(b.conv2d(x, w, null, { stride: 2, padding: 'same' }));
});
b.output('features', b.globalAvgPool(y));
const g = b.build();
const params = initParams(g, 0);
console.log(`graph: ${g.nodes.length} nodes, ${countParams(g)} parameters (${params.size} tensors), output ${JSON.stringify(g.outputs.get('features')!.shape)}`);
