/** The golden fixtures of the official code, loaded once per test file (see tools/test-fixtures/PROVENANCE.md). */
import { readFileSync } from 'node:fs';
import { entryToTensor, readSafetensorsFile, type Graph, type SafetensorsFile, type TensorData } from '@unias/graph';
import { FIXTURES } from '@unias/test-fixtures';

export const TAPS = ['res1', 'res2', 'res3', 'res4'] as const;

export interface Fixture {
  readonly io: SafetensorsFile;
  readonly head: SafetensorsFile;
  readonly backbone: SafetensorsFile;
  tensor(name: string): TensorData<'float32'>;
  /** Values for every param of a graph: head keys as they are, backbone keys from the pruned file. */
  params(graph: Graph): Map<string, TensorData>;
  /** decoder_input.<tap> and target.<tap> feeds. */
  featureFeeds(): Record<string, TensorData>;
}

export async function loadFixture(): Promise<Fixture> {
  const [io, head, backbone] = await Promise.all([
    readSafetensorsFile(FIXTURES.io),
    readSafetensorsFile(FIXTURES.head),
    readSafetensorsFile(FIXTURES.backboneTaps),
  ]);
  const tensor = (name: string): TensorData<'float32'> => {
    const e = io.tensors.get(name);
    if (!e) throw new Error(`fixture has no tensor "${name}"`);
    const t = entryToTensor(e);
    if (t.dtype !== 'float32') throw new Error(`fixture tensor "${name}" is ${t.dtype}`);
    return t as TensorData<'float32'>;
  };
  return {
    io,
    head,
    backbone,
    tensor,
    params(graph) {
      const out = new Map<string, TensorData>();
      for (const k of graph.params.keys()) {
        const e = (k.startsWith('backbone.') ? backbone : head).tensors.get(k);
        if (!e) throw new Error(`fixture has no weight "${k}"`);
        out.set(k, entryToTensor(e));
      }
      return out;
    },
    featureFeeds() {
      const feeds: Record<string, TensorData> = {};
      for (const t of TAPS) {
        feeds[`decoder_input.${t}`] = tensor(`backbone.decoder_input.${t}`);
        feeds[`target.${t}`] = tensor(`backbone.target.${t}`);
      }
      return feeds;
    },
  };
}

export type Shapes = Record<'paper' | 'small', { state_dict: Record<string, number[]>; trainable_params: Record<string, number> }>;
export const STATE_DICT_SHAPES = JSON.parse(readFileSync(FIXTURES.stateDictShapes, 'utf8')) as Shapes;
