/**
 * Output names for `unias predict`: one per input image, from its path under the folder given
 * (`a/b.png` -> `a__b`), never two alike: a name already taken, by an input or by a suffix added
 * here, gets the next free `-k` (`x.png`, `x.jpg`, `x-2.png` give `x`, `x-2`, `x-2-2`), and names
 * are compared case-insensitively, since `A.png` and `a.png` write the same files on macOS and
 * Windows.
 */
import { extname } from 'node:path';

export function outputNames(relativePaths: readonly string[]): string[] {
  const taken = new Set<string>();
  return relativePaths.map((rel) => {
    const base = rel.slice(0, rel.length - extname(rel).length).replace(/[\\/]/g, '__');
    let name = base;
    for (let k = 2; taken.has(name.toLowerCase()); k++) name = `${base}-${k}`;
    taken.add(name.toLowerCase());
    return name;
  });
}
