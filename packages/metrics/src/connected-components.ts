/**
 * Connected-component labelling of a binary mask (row-major, height x width): two raster passes with
 * a union-find over provisional labels. 8-connectivity (the MVTec AU-PRO definition, scipy's
 * `label` with a 3x3 structure of ones) or 4-connectivity.
 */

export type Connectivity = 4 | 8;

export interface Components {
  /** Per pixel: 0 for background, else the region's label 1..count (in raster order of first pixel). */
  readonly labels: Int32Array;
  readonly count: number;
  /** sizes[label] = pixels in that region; sizes[0] = background pixels. */
  readonly sizes: Uint32Array;
}

function find(parent: Int32Array, x: number): number {
  let root = x;
  while (parent[root]! !== root) root = parent[root]!;
  // Path compression.
  while (parent[x]! !== root) {
    const next = parent[x]!;
    parent[x] = root;
    x = next;
  }
  return root;
}

function union(parent: Int32Array, a: number, b: number): number {
  const ra = find(parent, a);
  const rb = find(parent, b);
  if (ra === rb) return ra;
  // Keep the smaller label as root so final labels follow raster order.
  if (ra < rb) {
    parent[rb] = ra;
    return ra;
  }
  parent[ra] = rb;
  return rb;
}

export function labelComponents(mask: ArrayLike<number>, height: number, width: number, connectivity: Connectivity = 8): Components {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0) {
    throw new Error(`labelComponents: bad size ${height} x ${width}`);
  }
  if (mask.length !== height * width) throw new Error(`labelComponents: mask has ${mask.length} values, ${height} x ${width} needs ${height * width}`);
  if (connectivity !== 4 && connectivity !== 8) throw new Error(`labelComponents: connectivity must be 4 or 8, got ${String(connectivity)}`);
  const labels = new Int32Array(height * width);
  // Provisional labels: at most one per pixel; parent[0] unused.
  let parent = new Int32Array(64);
  let next = 1;
  const diagonal = connectivity === 8;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (mask[i] === 0) continue;
      // Already-labelled neighbours: left, up, and (8-connectivity) up-left and up-right.
      let label = 0;
      for (let k = 0; k < 4; k++) {
        let other = 0;
        if (k === 0) other = x > 0 ? labels[i - 1]! : 0;
        else if (y === 0) break;
        else if (k === 1) other = labels[i - width]!;
        else if (!diagonal) break;
        else if (k === 2) other = x > 0 ? labels[i - width - 1]! : 0;
        else other = x + 1 < width ? labels[i - width + 1]! : 0;
        if (other !== 0) label = label === 0 ? find(parent, other) : union(parent, label, other);
      }
      if (label === 0) {
        if (next >= parent.length) {
          const grown = new Int32Array(parent.length * 2);
          grown.set(parent);
          parent = grown;
        }
        parent[next] = next;
        label = next++;
      }
      labels[i] = label;
    }
  }
  // Resolve to roots and renumber 1..count in raster order of each region's first pixel.
  const finalOf = new Int32Array(next);
  let count = 0;
  for (let l = 1; l < next; l++) {
    const root = find(parent, l);
    if (root === l) finalOf[l] = ++count;
  }
  for (let l = 1; l < next; l++) finalOf[l] = finalOf[find(parent, l)]!;
  const sizes = new Uint32Array(count + 1);
  let foreground = 0;
  for (let i = 0; i < labels.length; i++) {
    const provisional = labels[i]!;
    if (provisional === 0) continue;
    const l = finalOf[provisional]!;
    labels[i] = l;
    sizes[l]!++;
    foreground++;
  }
  sizes[0] = labels.length - foreground;
  return { labels, count, sizes };
}
