/**
 * Dev check (about a minute on two cores, too slow for the test suite): the whole small pipeline
 * from the fixture's normalised image on the float64 reference evaluator, against the official
 * code's outputs. Exits 1 when any error exceeds 1e-4.
 */
import { entryToTensor, readSafetensorsFile } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { FIXTURES } from '@unias/test-fixtures';
import { PRESETS, bindWeights, buildInferenceGraph, readWeightFiles } from '../src/index.js';

const io = await readSafetensorsFile(FIXTURES.io);
const get = (k: string) => entryToTensor(io.tensors.get(k)!);
const graph = buildInferenceGraph(PRESETS.small, { input: 'normalized', debugOutputs: true });
const params = bindWeights(graph, await readWeightFiles([FIXTURES.backboneTaps, FIXTURES.head]));
console.error('evaluating the small pipeline in float64 (about a minute)...');
const t0 = performance.now();
const out = evaluateReference(graph, { image: get('input.image') }, { params });
const errors: Record<string, number> = { anomaly_map: maxRelError(out.anomaly_map!.data, get('output.pred').data) };
for (let i = 0; i < 4; i++) errors[`recon.${i}`] = maxRelError(out[`recon.${i}`]!.data, get(`output.recon.${i}`).data);
for (const t of ['res1', 'res2', 'res3', 'res4']) errors[`target.${t}`] = maxRelError(out[`target.${t}`]!.data, get(`backbone.target.${t}`).data);
console.log(JSON.stringify({ check: 'reference-parity', seconds: +((performance.now() - t0) / 1000).toFixed(1), maxRelError: errors }, null, 2));
if (Object.values(errors).some((e) => !(e < 1e-4))) process.exit(1);
