/**
 * Diagnostic: where a preset's training-step graph moves memory, without timing anything (so it is
 * exact on a shared machine): bytes written per op kind and by the largest nodes, and the FLOPs.
 *
 *   tsx --conditions=@unias/source bench/graph-bytes.ts preset batch [input size]
 */
import { sizeOf } from '@unias/graph';
import { buildTrainingGraph, isPresetName, presetConfig } from '@unias/model';
import { adamw, buildStepGraph, countFlops } from '../src/index.js';

const [name = 'cpu', batchArg = '8', sizeArg] = process.argv.slice(2);
if (!isPresetName(name)) throw new Error(`unknown preset ${name}`);
const graph = buildTrainingGraph(presetConfig(name, sizeArg ? { inputSize: Number(sizeArg) } : {}), { batchSize: Number(batchArg) });
const step = buildStepGraph({ model: graph, optimizer: adamw({ lr: 1e-3 }), clipNorm: 1 });
const byOp = new Map<string, { bytes: number; count: number }>();
const nodes: Array<[number, string]> = [];
for (const n of step.graph.nodes) {
  if (n.kind !== 'op') continue;
  const bytes = sizeOf(n.shape) * 4;
  const e = byOp.get(n.op) ?? { bytes: 0, count: 0 };
  byOp.set(n.op, { bytes: e.bytes + bytes, count: e.count + 1 });
  nodes.push([bytes, `${n.op} ${n.id} [${n.shape.join(',')}] <- ${n.inputs.map((i) => `[${i.shape.join(',')}]`).join(' ')}`]);
}
const mb = (b: number) => (b / 2 ** 20).toFixed(0).padStart(7);
const total = [...byOp.values()].reduce((a, e) => a + e.bytes, 0);
process.stdout.write(
  `${step.graph.nodes.length} nodes, ${mb(total)} MB written, ${(countFlops(step.graph).total / 1e9).toFixed(1)} GFLOP in the step graph (3x forward: ${((3 * countFlops(graph).total) / 1e9).toFixed(1)})\n`,
);
for (const [op, e] of [...byOp.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 25))
  process.stdout.write(`${mb(e.bytes)} MB ${String(e.count).padStart(5)}x ${op}\n`);
process.stdout.write('\nlargest nodes:\n');
for (const [b, s] of nodes.sort((a, b) => b[0] - a[0]).slice(0, Number(process.env['TOP'] ?? 40))) process.stdout.write(`${mb(b)} MB ${s.slice(0, 200)}\n`);
