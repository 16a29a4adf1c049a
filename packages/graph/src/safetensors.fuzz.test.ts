/**
 * Seeded, bounded fuzzing of the safetensors reader: byte mutations of valid files (header and
 * body) and structured mutations of their headers. Every case must decode or be refused with a
 * SafetensorsError naming the file, quickly; a checksummed file must never decode to anything but
 * its original content.
 */
import { describe, expect, it } from 'vitest';
import type { Rng } from './rng.js';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  entryToFloat32,
  entryToNumbers,
  type DecodeOptions,
  type SafetensorsFile,
} from './safetensors.js';
import { fuzz, mutateBytes } from './testing/fuzz.js';

const SOURCE = 'fuzz.safetensors';

function sample(checksums: boolean): Uint8Array {
  return encodeSafetensors(
    {
      'enc.weight': { shape: [3, 4], data: Array.from({ length: 12 }, (_, i) => i / 7 - 0.5) },
      'enc.bias': { shape: [4], data: [1, -1, 0.5, 65504], dtype: 'F16' },
      'bn.num_batches_tracked': { shape: [], data: [1234], dtype: 'I64' },
      mask: { shape: [2, 2], data: [0, 1, 1, 0], dtype: 'BOOL' },
      empty: { shape: [0, 5], data: [] },
    },
    { format: 'unias-training-state/1', step: '42', rng: '{"s":[1,2,3,4],"spare":null}' },
    { checksums },
  );
}

/** Reads a file as the project does: decode, then every tensor's values. */
function readAll(bytes: Uint8Array, options: DecodeOptions = {}): SafetensorsFile {
  const f = decodeSafetensors(bytes, SOURCE, options);
  for (const e of f.tensors.values()) {
    entryToFloat32(e);
    entryToNumbers(e);
  }
  return f;
}

const clear = (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${SOURCE}: not a valid safetensors file: `);

function headerRange(bytes: Uint8Array): [number, number] {
  return [0, 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))];
}

const BAD_VALUES: unknown[] = [
  'constructor',
  'toString',
  '__proto__',
  'Q4',
  '',
  'f32',
  5,
  null,
  true,
  [],
  {},
  [1e300],
  [-1],
  [2 ** 53],
  [1.5],
  [2 ** 30, 2 ** 30, 2 ** 30],
  'x',
  [0, 2 ** 53 + 2],
  [16, 0],
  [0],
  [0, -4],
  [Number.MAX_SAFE_INTEGER, 0],
];

/** A header edited as JSON (a value replaced, a key duplicated or added, nesting deepened), re-framed with a correct length. */
function mutateHeader(rng: Rng, bytes: Uint8Array): { input: Uint8Array; how: string; mustRefuse: boolean } {
  const [, end] = headerRange(bytes);
  let text = new TextDecoder().decode(bytes.subarray(8, end)).trimEnd();
  const header = JSON.parse(text) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header);
  const name = names[rng.int(names.length)]!;
  let how: string;
  // duplicate keys, deep nesting and stray keys are invalid whatever their values
  let mustRefuse = true;
  switch (rng.int(5)) {
    case 0: {
      const fields = name === '__metadata__' ? ['format', 'step'] : ['dtype', 'shape', 'data_offsets'];
      const field = fields[rng.int(fields.length)]!;
      const value = BAD_VALUES[rng.int(BAD_VALUES.length)];
      header[name]![field] = value;
      text = JSON.stringify(header);
      mustRefuse = false;
      how = `${name}.${field} = ${JSON.stringify(value)}`;
      break;
    }
    case 1: {
      const value = BAD_VALUES[rng.int(BAD_VALUES.length)];
      (header as Record<string, unknown>)[name] = value;
      text = JSON.stringify(header);
      mustRefuse = false;
      how = `${name} = ${JSON.stringify(value)}`;
      break;
    }
    case 2: {
      // JSON.stringify cannot write a duplicate key: splice one into the text
      const entry = JSON.stringify({ [name]: header[name] }).slice(1, -1);
      text = `{${entry},${JSON.stringify(header).slice(1)}`;
      how = `duplicate key ${name}`;
      break;
    }
    case 3: {
      const depth = 1 + rng.int(5000);
      text = `${JSON.stringify(header).slice(0, -1)},"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      how = `nesting ${depth}`;
      break;
    }
    default: {
      const key = ['__proto__', 'constructor', 'toString', '__metadata__'][rng.int(4)]!;
      text = `${JSON.stringify(header).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(BAD_VALUES[rng.int(BAD_VALUES.length)])}}`;
      how = `extra key ${key}`;
    }
  }
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + (bytes.length - end));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(end), 8 + json.length);
  return { input: out, how, mustRefuse };
}

describe('safetensors fuzzing', () => {
  for (const checksums of [false, true]) {
    it(`byte mutations of a ${checksums ? 'checksummed' : 'plain'} file end in a result or a clear error`, async () => {
      const good = sample(checksums);
      const original = decodeSafetensors(good);
      const header = headerRange(good);
      const r = await fuzz({
        seed: checksums ? 2 : 1,
        count: 1500,
        budgetMs: 6000,
        // half the cases in the header, where the structure is
        make: (rng, i) => {
          const m = mutateBytes(rng, good, i % 2 === 0 ? header : [0, good.length]);
          return { input: m.bytes, how: m.how };
        },
        run: (bytes) => {
          // checksummed formats require them: damage to the checksum key's own name is refused too
          const f = readAll(bytes, { requireChecksums: checksums });
          if (!checksums) return;
          // a checksummed file that decodes holds exactly what was written
          expect(Object.fromEntries(Object.entries(f.metadata))).toEqual(Object.fromEntries(Object.entries(original.metadata)));
          expect([...f.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
          for (const [n, e] of f.tensors) expect(Buffer.compare(Buffer.from(e.bytes), Buffer.from(original.tensors.get(n)!.bytes)), n).toBe(0);
        },
        clearError: clear,
        caseMs: 500,
      });
      expect(r.failures).toEqual([]);
      expect(r.cases).toBeGreaterThan(300);
      expect(r.refused).toBeGreaterThan(r.cases / 4);
      console.info(
        `safetensors fuzz (${checksums ? 'checksummed' : 'plain'}): ${r.cases} cases in ${r.ms.toFixed(0)} ms, ${r.accepted} accepted, ${r.refused} refused, slowest ${r.slowestMs.toFixed(1)} ms`,
      );
    });
  }

  it('structured header mutations end in a result or a clear error', async () => {
    const good = sample(false);
    const r = await fuzz({
      seed: 3,
      count: 800,
      budgetMs: 6000,
      make: (rng) => mutateHeader(rng, good),
      run: (bytes) => readAll(bytes),
      clearError: clear,
      caseMs: 500,
    });
    expect(r.failures).toEqual([]);
    expect(r.refused).toBeGreaterThan(r.cases / 2);
    console.info(
      `safetensors header fuzz: ${r.cases} cases in ${r.ms.toFixed(0)} ms, ${r.accepted} accepted, ${r.refused} refused, slowest ${r.slowestMs.toFixed(1)} ms`,
    );
  });
});
