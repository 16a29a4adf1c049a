/**
 * Seeded fuzz: mutated and truncated checkpoints (whole files, and the pickle inside a zip re-packed
 * with a correct CRC so the mutation reaches the unpickler) end in a TorchCheckpointError or read;
 * never another exception, a crash or a hang.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '@unias/graph';
import { TorchCheckpointError, checkpointTensorData, readTorchCheckpoint } from './index.js';
import { seeded, writeStoredZip } from './testing/stored-zip.js';
import { readZip } from './zip.js';

const fixture = async (name: string): Promise<Uint8Array> => new Uint8Array(await readFile(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))));

type Mutator = (b: Uint8Array, rnd: () => number) => Uint8Array;
const at = (b: Uint8Array, rnd: () => number): number => Math.floor(rnd() * b.length);
const MUTATORS: Record<string, Mutator> = {
  flipBit: (b, rnd) => {
    const c = b.slice();
    c[at(c, rnd)]! ^= 1 << Math.floor(rnd() * 8);
    return c;
  },
  randomByte: (b, rnd) => {
    const c = b.slice();
    c[at(c, rnd)] = Math.floor(rnd() * 256);
    return c;
  },
  maxWord: (b, rnd) => {
    const c = b.slice();
    const i = at(c, rnd);
    c.fill(rnd() < 0.5 ? 0xff : 0x7f, i, i + 4);
    return c;
  },
  truncate: (b, rnd) => b.slice(0, at(b, rnd)),
  deleteRange: (b, rnd) => {
    const i = at(b, rnd);
    const n = 1 + Math.floor(rnd() * 8);
    return new Uint8Array([...b.subarray(0, i), ...b.subarray(i + n)]);
  },
  duplicateRange: (b, rnd) => {
    const i = at(b, rnd);
    const n = 1 + Math.floor(rnd() * 16);
    return new Uint8Array([...b.subarray(0, i + n), ...b.subarray(i)]);
  },
};
const NAMES = Object.keys(MUTATORS);

interface Outcome {
  readonly ok: number;
  readonly refused: number;
  readonly escaped: string[];
}

function run(label: string, original: Uint8Array, count: number, seed: number, wrap: (mutated: Uint8Array) => Uint8Array = (b) => b): Outcome {
  const rnd = seeded(seed);
  let ok = 0;
  let refused = 0;
  const escaped: string[] = [];
  for (let i = 0; i < count; i++) {
    const kind = NAMES[Math.floor(rnd() * NAMES.length)]!;
    // One to three mutations per case.
    let bytes = original;
    const times = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < times && bytes.length > 0; k++) bytes = MUTATORS[kind]!(bytes, rnd);
    try {
      const ckpt = readTorchCheckpoint(wrap(bytes), { source: `${label}#${i}` });
      try {
        checkpointTensorData(ckpt);
      } catch (e) {
        // An int64 beyond 2^53 is refused by the TensorData conversion, with the tensor named.
        if (!(e instanceof SafetensorsError)) throw e;
      }
      ok++;
    } catch (e) {
      if (e instanceof TorchCheckpointError && e.message.startsWith(`${label}#${i}`)) refused++;
      else escaped.push(`${label}#${i} (${kind} x${times}): ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }
  return { ok, refused, escaped };
}

describe('fuzz', () => {
  it('mutated whole files (zip, DEFLATE, legacy, official layout): every failure is a TorchCheckpointError naming the file', async () => {
    const started = Date.now();
    const escaped: string[] = [];
    let refused = 0;
    let seed = 1;
    for (const name of ['basic.pt', 'deflated.pt', 'legacy.pt', 'official-layout.pth.tar']) {
      const r = run(name, await fixture(name), 150, seed++);
      escaped.push(...r.escaped);
      refused += r.refused;
    }
    expect(escaped.slice(0, 5)).toEqual([]);
    expect(refused).toBeGreaterThan(300);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('mutated pickles inside a valid zip reach the unpickler and end the same way', async () => {
    const original = await fixture('official-layout.pth.tar');
    const zip = readZip(original, 'fixture');
    const entries = [...zip.entries.keys()].map((n) => [n, zip.read(n)] as const);
    const pkl = 'official-layout.pth/data.pkl';
    const r = run('pickle', zip.read(pkl), 400, 99, (mutated) => writeStoredZip(entries.map(([n, d]) => [n, n === pkl ? mutated : d] as const)));
    expect(r.escaped.slice(0, 5)).toEqual([]);
    // Most mutations of a pickle are caught; some (a changed float, a renamed key) still read.
    expect(r.refused).toBeGreaterThan(200);
    expect(r.ok).toBeGreaterThan(0);
  });
});
