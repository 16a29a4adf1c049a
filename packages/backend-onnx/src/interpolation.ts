/**
 * Linear interpolation along one axis as a matrix, with PyTorch's source coordinates:
 * align_corners maps the corner pixels onto each other; otherwise half-pixel centres, scale in/out,
 * source clamped at 0 below and at the last pixel above (no antialiasing when down-sampling).
 */
export function sourceCoordinate(dst: number, inSize: number, outSize: number, alignCorners: boolean): number {
  if (alignCorners) return outSize > 1 ? (dst * (inSize - 1)) / (outSize - 1) : 0;
  return Math.max((dst + 0.5) * (inSize / outSize) - 0.5, 0);
}

/**
 * The [out, in] matrix R with out = R · in (or, `transposed`, the [in, out] matrix Rᵀ), computed in
 * float64 and stored as float32.
 */
export function interpolationMatrix(inSize: number, outSize: number, alignCorners: boolean, transposed: boolean): Float32Array {
  const m = new Float64Array(inSize * outSize);
  const at = (o: number, i: number) => (transposed ? i * outSize + o : o * inSize + i);
  for (let o = 0; o < outSize; o++) {
    const src = sourceCoordinate(o, inSize, outSize, alignCorners);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const t = src - i0;
    m[at(o, i0)]! += 1 - t;
    m[at(o, i1)]! += t;
  }
  return Float32Array.from(m);
}
