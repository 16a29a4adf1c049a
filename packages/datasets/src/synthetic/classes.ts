/**
 * The synthetic classes: three textures (a woven grid, a fabric, a wood grain) and two objects (a hex
 * nut, a two-colour capsule). A render is a pure function of the image size and a variation Rng; the
 * variation is small (lighting, a pixel or two of shift, a few degrees of rotation, pattern phase), so
 * that ~50 training images describe a class well.
 */
import type { Rng } from '@unias/graph';
import { clamp01, fbm, valueNoise } from './noise.js';

export type DefectType = 'scratch' | 'crack' | 'hole' | 'stain' | 'missing' | 'contamination';

export const DEFECT_TYPES: readonly DefectType[] = ['scratch', 'crack', 'hole', 'stain', 'missing', 'contamination'];

export interface ClassRender {
  /** Interleaved RGB, `size * size * 3`, in [0, 1]. */
  readonly image: Float32Array;
  /** What lies under the object or pattern (for `missing`); null when there is nothing to reveal. */
  readonly background: Float32Array | null;
  /** Per pixel, where a defect may sit and act: object coverage, or 1 everywhere for a texture. */
  readonly region: Float32Array;
}

export interface SyntheticClass {
  readonly name: string;
  readonly kind: 'texture' | 'object';
  readonly defects: readonly DefectType[];
  render(size: number, variation: Rng): ClassRender;
}

interface Lighting {
  readonly gain: number;
  readonly gx: number;
  readonly gy: number;
}

function drawLighting(rng: Rng): Lighting {
  const g = (sd: number, lim: number): number => Math.max(-lim, Math.min(lim, rng.normal() * sd));
  return { gain: 1 + g(0.025, 0.06), gx: g(0.015, 0.04), gy: g(0.015, 0.04) };
}

function light(l: Lighting, x: number, y: number, size: number): number {
  return l.gain * (1 + l.gx * ((2 * x) / size - 1) + l.gy * ((2 * y) / size - 1));
}

function bounded(rng: Rng, sd: number, lim: number): number {
  return Math.max(-lim, Math.min(lim, rng.normal() * sd));
}

function put(out: Float32Array, i: number, r: number, g: number, b: number): void {
  out[i * 3] = r;
  out[i * 3 + 1] = g;
  out[i * 3 + 2] = b;
}

/** Thread colours of the woven grid: warp (vertical) and weft (horizontal). */
const WARP = [0.8, 0.75, 0.62] as const;
const WEFT = [0.87, 0.8, 0.64] as const;

const WEAVE: SyntheticClass = {
  name: 'weave',
  kind: 'texture',
  defects: ['hole', 'stain', 'missing', 'contamination'],
  render(size, rng) {
    const s = size / 128;
    const p = 12 * s;
    const hw = 0.36 * p;
    const th = bounded(rng, 0.015, 0.035);
    const ox = rng.uniform() * 2 * p;
    const oy = rng.uniform() * 2 * p;
    const lit = drawLighting(rng);
    const seed = rng.int(1 << 30);
    const c = Math.cos(th);
    const sn = Math.sin(th);
    const image = new Float32Array(size * size * 3);
    const background = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        const px = x + 0.5;
        const py = y + 0.5;
        const u = c * px + sn * py + ox;
        const v = -sn * px + c * py + oy;
        const cu = Math.floor(u / p);
        const cv = Math.floor(v / p);
        const fu = u - (cu + 0.5) * p;
        const fv = v - (cv + 0.5) * p;
        const L = light(lit, px, py, size);
        const gap = 0.13 * L * (0.9 + 0.2 * valueNoise(u / (3 * s), v / (3 * s), seed));
        put(background, i, gap, gap * 0.93, gap * 0.85);
        const covV = clamp01(hw + 0.5 - Math.abs(fu));
        const covH = clamp01(hw + 0.5 - Math.abs(fv));
        const shV = 0.62 + 0.38 * Math.cos((Math.PI / 2) * Math.min(1, Math.abs(fu) / hw));
        const shH = 0.62 + 0.38 * Math.cos((Math.PI / 2) * Math.min(1, Math.abs(fv) / hw));
        // Fibres run along each thread: noise stretched along its direction.
        const fibV = 0.94 + 0.12 * valueNoise(u / (1.1 * s), v / (5 * s), seed + 1);
        const fibH = 0.94 + 0.12 * valueNoise(u / (5 * s), v / (1.1 * s), seed + 2);
        const hOver = ((cu + cv) & 1) === 0;
        // The thread passing under dips into shadow near the crossing.
        const dipH = 0.72 + 0.28 * clamp01(Math.abs(fu) / (hw + 2 * s) - 0.6);
        const dipV = 0.72 + 0.28 * clamp01(Math.abs(fv) / (hw + 2 * s) - 0.6);
        // Under thread first, then the over thread on top (no closures: this runs per pixel).
        const underCov = hOver ? covV : covH;
        const overCov = hOver ? covH : covV;
        const underK = hOver ? shV * fibV * dipV * L : shH * fibH * dipH * L;
        const overK = hOver ? shH * fibH * L : shV * fibV * L;
        const [ur, ug, ub] = hOver ? WARP : WEFT;
        const [vr, vg, vb] = hOver ? WEFT : WARP;
        let r = gap + (ur * underK - gap) * underCov;
        let g = gap * 0.93 + (ug * underK - gap * 0.93) * underCov;
        let b = gap * 0.85 + (ub * underK - gap * 0.85) * underCov;
        r += (vr * overK - r) * overCov;
        g += (vg * overK - g) * overCov;
        b += (vb * overK - b) * overCov;
        put(image, i, r, g, b);
      }
    }
    return { image, background, region: new Float32Array(size * size).fill(1) };
  },
};

const FABRIC: SyntheticClass = {
  name: 'fabric',
  kind: 'texture',
  defects: ['hole', 'stain', 'crack', 'contamination'],
  render(size, rng) {
    const s = size / 128;
    const ox = rng.uniform() * 500;
    const oy = rng.uniform() * 500;
    const lit = drawLighting(rng);
    const seed = rng.int(1 << 30);
    const image = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const px = x + 0.5 + ox;
        const py = y + 0.5 + oy;
        const mottle = fbm(px / (7 * s), py / (7 * s), seed, 3);
        const warp = valueNoise(px / (1.3 * s), py / (4.5 * s), seed + 7);
        const weft = valueNoise(px / (4.5 * s), py / (1.3 * s), seed + 9);
        const v = (0.74 + 0.36 * (mottle - 0.5) + 0.2 * (warp - 0.5) + 0.2 * (weft - 0.5)) * light(lit, x, y, size);
        put(image, y * size + x, 0.38 * v, 0.46 * v, 0.6 * v);
      }
    }
    return { image, background: null, region: new Float32Array(size * size).fill(1) };
  },
};

const GRAIN: SyntheticClass = {
  name: 'grain',
  kind: 'texture',
  defects: ['scratch', 'crack', 'hole', 'stain'],
  render(size, rng) {
    const s = size / 128;
    const ox = rng.uniform() * 400;
    const oy = rng.uniform() * 400;
    const th = bounded(rng, 0.02, 0.05);
    const lit = drawLighting(rng);
    const seed = rng.int(1 << 30);
    const c = Math.cos(th);
    const sn = Math.sin(th);
    const image = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        const u = c * px + sn * py + ox;
        const v = -sn * px + c * py + oy;
        // Growth rings run along u, bent by low-frequency noise.
        const bend = 12 * s * (fbm(u / (45 * s), v / (30 * s), seed, 2) - 0.5) * 2;
        const ring = (v + bend) / (9 * s);
        const w = Math.pow(0.5 + 0.5 * Math.cos(2 * Math.PI * ring), 3);
        const streak = valueNoise(u / (14 * s), v / (0.9 * s), seed + 3);
        const k = (0.93 + 0.14 * (streak - 0.5)) * light(lit, px, py, size);
        const t = 0.8 * w;
        put(image, y * size + x, (0.8 + (0.5 - 0.8) * t) * k, (0.6 + (0.31 - 0.6) * t) * k, (0.4 + (0.16 - 0.4) * t) * k);
      }
    }
    return { image, background: null, region: new Float32Array(size * size).fill(1) };
  },
};

/** Signed distance to a flat-topped regular hexagon of inradius `ra` centred at the origin. */
function sdHexagon(x: number, y: number, ra: number): number {
  const kx = -0.8660254037844386;
  const ky = 0.5;
  const kz = 0.5773502691896258;
  let px = Math.abs(x);
  let py = Math.abs(y);
  const d = Math.min(kx * px + ky * py, 0);
  px -= 2 * d * kx;
  py -= 2 * d * ky;
  const cx = Math.max(-kz * ra, Math.min(kz * ra, px));
  px -= cx;
  py -= ra;
  return Math.hypot(px, py) * Math.sign(py);
}

const WASHER: SyntheticClass = {
  name: 'washer',
  kind: 'object',
  defects: ['scratch', 'missing', 'stain', 'contamination'],
  render(size, rng) {
    const s = size / 128;
    const cx = size / 2 + bounded(rng, 1.2 * s, 3 * s);
    const cy = size / 2 + bounded(rng, 1.2 * s, 3 * s);
    const rot = bounded(rng, 0.035, 0.08);
    const lit = drawLighting(rng);
    const seed = rng.int(1 << 30);
    const R = 0.34 * size;
    const ra = R * 0.8660254;
    const rHole = 0.14 * size;
    const c = Math.cos(rot);
    const sn = Math.sin(rot);
    const image = new Float32Array(size * size * 3);
    const background = new Float32Array(size * size * 3);
    const region = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        const px = x + 0.5;
        const py = y + 0.5;
        const L = light(lit, px, py, size);
        const bgv = (0.9 + 0.2 * fbm(px / (30 * s), py / (30 * s), seed, 2)) * L;
        const br = 0.2 * bgv;
        const bgg = 0.22 * bgv;
        const bb = 0.25 * bgv;
        put(background, i, br, bgg, bb);
        const dx = px - cx;
        const dy = py - cy;
        const lx = c * dx + sn * dy;
        const ly = -sn * dx + c * dy;
        const sd = sdHexagon(lx, ly, ra);
        const dist = Math.hypot(dx, dy);
        // The object and its hole, antialiased over one pixel.
        const cov = clamp01(0.5 - sd) * clamp01(0.5 + dist - rHole);
        // Soft shadow cast down-right.
        const sdS = sdHexagon(lx - 2 * s, ly - 2.5 * s, ra);
        const shadow = 1 - 0.35 * clamp01(0.5 - sdS / (3 * s)) * clamp01(0.5 + (Math.hypot(dx - 2 * s, dy - 2.5 * s) - rHole) / (3 * s));
        const a = Math.atan2(ly, lx);
        const inside = -sd;
        let shade = 0.7 + 0.12 * Math.cos(2 * (a - 0.6));
        if (inside < 4 * s) shade *= 0.82 + 0.045 * (inside / s);
        if (dist - rHole < 3 * s) shade *= 1.12 - 0.04 * ((dist - rHole) / s);
        shade *= 1 + 0.05 * (valueNoise(dist / (0.8 * s), a * 6, seed + 5) - 0.5);
        shade *= L;
        put(
          image,
          i,
          br * shadow + (0.72 * shade - br * shadow) * cov,
          bgg * shadow + (0.73 * shade - bgg * shadow) * cov,
          bb * shadow + (0.76 * shade - bb * shadow) * cov,
        );
        region[i] = cov;
      }
    }
    return { image, background, region };
  },
};

const TABLET: SyntheticClass = {
  name: 'tablet',
  kind: 'object',
  defects: ['crack', 'missing', 'stain', 'contamination'],
  render(size, rng) {
    const s = size / 128;
    const cx = size / 2 + bounded(rng, 1.2 * s, 3 * s);
    const cy = size / 2 + bounded(rng, 1.2 * s, 3 * s);
    const rot = bounded(rng, 0.04, 0.09);
    const lit = drawLighting(rng);
    const seed = rng.int(1 << 30);
    const half = 0.24 * size;
    const rr = 0.15 * size;
    const c = Math.cos(rot);
    const sn = Math.sin(rot);
    const image = new Float32Array(size * size * 3);
    const background = new Float32Array(size * size * 3);
    const region = new Float32Array(size * size);
    const capsuleDist = (u: number, v: number): number => Math.hypot(Math.max(Math.abs(u) - half, 0), v);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        const px = x + 0.5;
        const py = y + 0.5;
        const L = light(lit, px, py, size);
        const bgv = (0.97 + 0.06 * fbm(px / (25 * s), py / (25 * s), seed, 2)) * L;
        put(background, i, 0.9 * bgv, 0.9 * bgv, 0.87 * bgv);
        const dx = px - cx;
        const dy = py - cy;
        const u = c * dx + sn * dy;
        const v = -sn * dx + c * dy;
        const dist = capsuleDist(u, v);
        const cov = clamp01(0.5 - (dist - rr));
        const shadow = 1 - 0.3 * clamp01(0.5 - (capsuleDist(u - 2 * s, v - 3 * s) - rr) / (3 * s));
        const h = Math.sqrt(Math.max(0, 1 - (dist / rr) ** 2));
        const shade = (0.55 + 0.45 * h) * L;
        const spec = 0.22 * Math.exp(-((v / rr + 0.45) ** 2) / 0.02) * h;
        // Two halves meeting at a thin seam.
        const t = clamp01(0.5 + u / (0.8 * s));
        const seam = 1 - 0.18 * Math.exp(-((u / (0.7 * s)) ** 2));
        const or = (0.78 + (0.93 - 0.78) * t) * shade * seam + spec;
        const og = (0.2 + (0.88 - 0.2) * t) * shade * seam + spec;
        const ob = (0.18 + (0.74 - 0.18) * t) * shade * seam + spec;
        const br = 0.9 * bgv * shadow;
        const bgg = 0.9 * bgv * shadow;
        const bb = 0.87 * bgv * shadow;
        put(image, i, br + (or - br) * cov, bgg + (og - bgg) * cov, bb + (ob - bb) * cov);
        region[i] = cov;
      }
    }
    return { image, background, region };
  },
};

export const SYNTHETIC_CLASSES: readonly SyntheticClass[] = [WEAVE, FABRIC, GRAIN, WASHER, TABLET];

export function syntheticClass(name: string): SyntheticClass {
  const c = SYNTHETIC_CLASSES.find((k) => k.name === name);
  if (!c) throw new Error(`unknown synthetic class "${name}" (known: ${SYNTHETIC_CLASSES.map((k) => k.name).join(', ')})`);
  return c;
}
