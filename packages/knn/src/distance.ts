/**
 * Distance of every embedded patch to its nearest neighbour in a memory bank, as graph ops that
 * lower to one MatMul and a max reduction: ||q - m||^2 = ||q||^2 - 2 q.m + ||m||^2, minimised over
 * the bank, clamped at 0 (rounding) and square-rooted.
 */
import type { GraphBuilder, Sym } from '@unias/graph';

/** Bank columns per matmul. */
export const DEFAULT_CHUNK = 8192;

/**
 * embedding [N, C, h, w]; bank [C, M] (one column per stored patch); bankSqNorm [1, M] (each
 * column's squared norm) -> [N, 1, h, w] Euclidean distances.
 */
export function nearestDistanceMap(b: GraphBuilder, embedding: Sym, bank: Sym, bankSqNorm: Sym, o: { chunk?: number } = {}): Sym {
  const [n, c, h, w] = embedding.shape as [number, number, number, number];
  if (bank.shape.length !== 2 || bank.shape[0] !== c) throw new Error(`nearest distance: bank [${bank.shape.join(', ')}] must be [${c}, M]`);
  const m = bank.shape[1]!;
  if (bankSqNorm.shape.length !== 2 || bankSqNorm.shape[0] !== 1 || bankSqNorm.shape[1] !== m) {
    throw new Error(`nearest distance: bankSqNorm [${bankSqNorm.shape.join(', ')}] must be [1, ${m}]`);
  }
  const q = b.transpose(b.reshape(embedding, [n, c, h * w]), [0, 2, 1]); // [N, hw, C]
  // min over the bank of (||m||^2 - 2 q.m); ||q||^2 does not depend on m and is added after.
  // The bank is taken in column chunks so the [N, hw, chunk] products stay small (a 200k-patch
  // bank at once would need gigabytes per image batch).
  const chunk = o.chunk ?? DEFAULT_CHUNK;
  let nearest: Sym | null = null;
  for (let start = 0; start < m; start += chunk) {
    const end = Math.min(m, start + chunk);
    const cols = start === 0 && end === m ? bank : b.slice(bank, 1, start, end);
    const norms = start === 0 && end === m ? bankSqNorm : b.slice(bankSqNorm, 1, start, end);
    const partial = b.sub(norms, b.mul(b.matmul(q, cols), 2)); // [N, hw, chunk]
    const best = b.neg(b.max(b.neg(partial), [2], true)); // [N, hw, 1]
    nearest = nearest === null ? best : b.minimum(nearest, best);
  }
  nearest = nearest!;
  const d2 = b.add(nearest, b.sum(b.mul(q, q), [2], true));
  const dist = b.sqrt(b.maximum(d2, 0));
  return b.reshape(b.transpose(dist, [0, 2, 1]), [n, 1, h, w]);
}
