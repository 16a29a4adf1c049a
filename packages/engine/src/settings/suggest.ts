/** "Did you mean ...?" for unknown names: the closest known name by edit distance, if close enough. */

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The known name closest to `name`, when at most about a third of it differs. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  const limit = Math.max(2, Math.ceil(name.length / 3));
  return bestD <= limit ? best : undefined;
}

/** ` (did you mean "x"?)` or ` (known: a, b, c)`. */
export function suggestion(name: string, known: readonly string[]): string {
  const c = closest(name, known);
  return c !== undefined ? `; did you mean "${c}"?` : `; known: ${known.join(', ')}`;
}
