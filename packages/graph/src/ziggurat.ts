/**
 * Marsaglia & Tsang's ziggurat for the normal density (2000): the tables and the rare path that
 * rng.ts's fillNormalFast and rng-lanes.ts's lane fills share.
 */

/** Where the ziggurat's 128 layers end and its tail begins, and each layer's area. */
const ZIGGURAT_R = 3.442619855899;
const ZIGGURAT_V = 9.91256303526217e-3;

export interface ZigguratTables {
  /** |hz| below kn[i] is inside layer i's rectangle (hz a signed 32-bit word). */
  readonly kn: Float64Array;
  /** Layer i's right edge over 2^31: the value is hz * wn[i]. */
  readonly wn: Float64Array;
  /** The density exp(-x^2 / 2) at layer i's right edge. */
  readonly fn: Float64Array;
}

/** Marsaglia & Tsang's zigset for the normal density. */
function buildZiggurat(): ZigguratTables {
  const m1 = 2147483648;
  const kn = new Float64Array(128);
  const wn = new Float64Array(128);
  const fn = new Float64Array(128);
  let dn = ZIGGURAT_R;
  let tn = dn;
  const q = ZIGGURAT_V / Math.exp(-0.5 * dn * dn);
  kn[0] = Math.floor((dn / q) * m1);
  kn[1] = 0;
  wn[0] = q / m1;
  wn[127] = dn / m1;
  fn[0] = 1;
  fn[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(ZIGGURAT_V / dn + Math.exp(-0.5 * dn * dn)));
    kn[i + 1] = Math.floor((dn / tn) * m1);
    tn = dn;
    fn[i] = Math.exp(-0.5 * dn * dn);
    wn[i] = dn / m1;
  }
  return { kn, wn, fn };
}

/** The ziggurat's tables (rng-lanes.ts copies them into its kernel's memory). */
export const ZIGGURAT = buildZiggurat();

/** Where zigguratEdge takes its further 32-bit words from. */
export interface WordSource {
  nextWord(): number;
}

/**
 * A value outside a layer's rectangle (Marsaglia & Tsang's nfix): the tail beyond R, or a wedge,
 * with the words it needs from `source`: fillNormalFast's generator, or the scalar generator of
 * rng-lanes.ts's TypeScript twin (rng-lanes.wat's $edge is this function, operation for operation).
 */
export function zigguratEdge(source: WordSource, first: number, layer: number): number {
  const { kn, wn, fn } = ZIGGURAT;
  let hz = first;
  let iz = layer;
  for (;;) {
    const x = hz * wn[iz]!;
    // uniforms in (0, 1): log() never sees 0
    if (iz === 0) {
      let tail: number;
      let y: number;
      do {
        tail = -Math.log((source.nextWord() + 0.5) / 4294967296) / ZIGGURAT_R;
        y = -Math.log((source.nextWord() + 0.5) / 4294967296);
      } while (y + y < tail * tail);
      return hz > 0 ? ZIGGURAT_R + tail : -ZIGGURAT_R - tail;
    }
    if (fn[iz]! + ((source.nextWord() + 0.5) / 4294967296) * (fn[iz - 1]! - fn[iz]!) < Math.exp(-0.5 * x * x)) return x;
    hz = source.nextWord() | 0;
    iz = hz & 127;
    if (Math.abs(hz) < kn[iz]!) return hz * wn[iz]!;
  }
}
