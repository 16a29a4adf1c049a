/**
 * Defects painted onto a class render. Each works in place on a copy of the image and touches only
 * a local patch; which pixels count as defective is decided afterwards by comparing with the clean
 * render (see render.ts), so the mask is exactly what changed.
 */
import type { Rng } from '@unias/graph';
import type { ClassRender, DefectType } from './classes.js';
import { clamp01, smoothstep, valueNoise } from './noise.js';

interface Ctx {
  readonly size: number;
  /** Scale relative to a 128-pixel image. */
  readonly s: number;
  readonly image: Float32Array;
  readonly render: ClassRender;
  readonly rng: Rng;
}

type Point = readonly [number, number];

/** A point where the defect region is fully present (object interior, anywhere on a texture). */
function pickPoint(ctx: Ctx, margin: number, accept: (r: number) => boolean = (r) => r >= 0.999, where: (x: number, y: number) => boolean = () => true): Point {
  const { size, rng, render } = ctx;
  for (let t = 0; t < 2000; t++) {
    const x = margin + rng.uniform() * (size - 2 * margin);
    const y = margin + rng.uniform() * (size - 2 * margin);
    if (accept(render.region[Math.floor(y) * size + Math.floor(x)]!) && where(x, y)) return [x, y];
  }
  return [size / 2, size / 2];
}

/** Visits the pixels of a box (clipped to the image) with their centre coordinates. */
function eachPixel(ctx: Ctx, x0: number, y0: number, x1: number, y1: number, fn: (i: number, px: number, py: number) => void): void {
  const xa = Math.max(0, Math.floor(x0));
  const ya = Math.max(0, Math.floor(y0));
  const xb = Math.min(ctx.size - 1, Math.ceil(x1));
  const yb = Math.min(ctx.size - 1, Math.ceil(y1));
  for (let y = ya; y <= yb; y++) for (let x = xa; x <= xb; x++) fn(y * ctx.size + x, x + 0.5, y + 0.5);
}

function mix(img: Float32Array, i: number, r: number, g: number, b: number, a: number): void {
  if (a <= 0) return;
  img[i * 3] = img[i * 3]! + (r - img[i * 3]!) * a;
  img[i * 3 + 1] = img[i * 3 + 1]! + (g - img[i * 3 + 1]!) * a;
  img[i * 3 + 2] = img[i * 3 + 2]! + (b - img[i * 3 + 2]!) * a;
}

/** Distance from a point to a polyline and the arc-length fraction of the nearest point. */
function polylineDistance(pts: readonly Point[], lengths: readonly number[], total: number, x: number, y: number): { d: number; t: number } {
  let best = Infinity;
  let bestT = 0;
  for (let k = 0; k + 1 < pts.length; k++) {
    const [ax, ay] = pts[k]!;
    const [bx, by] = pts[k + 1]!;
    const vx = bx - ax;
    const vy = by - ay;
    const len2 = vx * vx + vy * vy || 1e-9;
    const u = clamp01(((x - ax) * vx + (y - ay) * vy) / len2);
    const d = Math.hypot(x - ax - u * vx, y - ay - u * vy);
    if (d < best) {
      best = d;
      bestT = (lengths[k]! + u * Math.sqrt(len2)) / total;
    }
  }
  return { d: best, t: bestT };
}

/** Paints a stroke along a polyline; `effect` gets the pixel and the stroke's coverage there. */
function stroke(ctx: Ctx, pts: readonly Point[], halfWidth: (t: number) => number, effect: (i: number, cov: number, px: number, py: number) => void): void {
  const lengths = [0];
  for (let k = 1; k < pts.length; k++) lengths.push(lengths[k - 1]! + Math.hypot(pts[k]![0] - pts[k - 1]![0], pts[k]![1] - pts[k - 1]![1]));
  const total = lengths[lengths.length - 1]! || 1;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const pad = 3 * ctx.s + 2;
  eachPixel(ctx, Math.min(...xs) - pad, Math.min(...ys) - pad, Math.max(...xs) + pad, Math.max(...ys) + pad, (i, px, py) => {
    const { d, t } = polylineDistance(pts, lengths, total, px, py);
    const cov = clamp01(halfWidth(t) + 0.5 - d);
    if (cov > 0) effect(i, cov * ctx.render.region[i]!, px, py);
  });
}

function scratch(ctx: Ctx): void {
  const { rng, size, s } = ctx;
  const [x0, y0] = pickPoint(ctx, 12 * s);
  const a = rng.uniform() * 2 * Math.PI;
  const len = (0.2 + 0.2 * rng.uniform()) * size;
  const bend = rng.normal() * 0.12 * len;
  const pts: Point[] = [];
  for (let k = 0; k <= 24; k++) {
    const t = k / 24;
    const along = (t - 0.5) * len;
    const off = bend * 4 * t * (1 - t);
    pts.push([x0 + Math.cos(a) * along - Math.sin(a) * off, y0 + Math.sin(a) * along + Math.cos(a) * off]);
  }
  const hw = (0.55 + 0.45 * rng.uniform()) * s;
  const bright = rng.uniform() < 0.6;
  const strength = 0.6 + 0.25 * rng.uniform();
  const target = bright ? 0.96 : 0.06;
  stroke(
    ctx,
    pts,
    (t) => hw * Math.min(1, 0.25 + 4 * Math.min(t, 1 - t)),
    (i, cov) => mix(ctx.image, i, target, target, target * 0.97, strength * cov),
  );
}

function walk(rng: Rng, start: Point, angle: number, steps: number, step: number): Point[] {
  const pts: Point[] = [start];
  let [x, y] = start;
  let a = angle;
  for (let k = 0; k < steps; k++) {
    a += rng.normal() * 0.38;
    x += Math.cos(a) * step;
    y += Math.sin(a) * step;
    pts.push([x, y]);
  }
  return pts;
}

function crack(ctx: Ctx): void {
  const { rng, s } = ctx;
  const start = pickPoint(ctx, 16 * s);
  const a = rng.uniform() * 2 * Math.PI;
  const main = walk(rng, start, a, 12 + rng.int(10), 2 * s);
  const hw = (0.5 + 0.4 * rng.uniform()) * s;
  const darken = 0.75 + 0.15 * rng.uniform();
  const paint = (pts: readonly Point[], w: number): void =>
    stroke(
      ctx,
      pts,
      (t) => w * (1 - 0.55 * t),
      (i, cov) => {
        const k = 1 - darken * cov;
        ctx.image[i * 3] = ctx.image[i * 3]! * k;
        ctx.image[i * 3 + 1] = ctx.image[i * 3 + 1]! * k;
        ctx.image[i * 3 + 2] = ctx.image[i * 3 + 2]! * k;
      },
    );
  paint(main, hw);
  if (rng.uniform() < 0.6) {
    const from = main[Math.floor(main.length / 2)]!;
    paint(walk(rng, from, a + (rng.uniform() < 0.5 ? 0.9 : -0.9), 5 + rng.int(6), 2 * s), hw * 0.7);
  }
}

function hole(ctx: Ctx): void {
  const { rng, s, render } = ctx;
  const r0 = (3 + 3.5 * rng.uniform()) * s;
  const [cx, cy] = pickPoint(ctx, r0 + 6 * s);
  const p1 = rng.uniform() * 2 * Math.PI;
  const p2 = rng.uniform() * 2 * Math.PI;
  const seed = rng.int(1 << 30);
  const reach = r0 * 1.4 + 3 * s;
  eachPixel(ctx, cx - reach, cy - reach, cx + reach, cy + reach, (i, px, py) => {
    const dx = px - cx;
    const dy = py - cy;
    const phi = Math.atan2(dy, dx);
    const r = r0 * (1 + 0.18 * Math.sin(3 * phi + p1) + 0.1 * Math.sin(5 * phi + p2));
    const d = Math.hypot(dx, dy) - r;
    const region = render.region[i]!;
    const inside = clamp01(0.5 - d);
    // A frayed, lighter rim just outside the edge.
    const rim = d > 0 ? Math.exp(-(((d - 0.8 * s) / (1.1 * s)) ** 2)) * 0.3 : 0;
    if (rim > 0) {
      const k = 1 + rim * region;
      ctx.image[i * 3] = Math.min(1, ctx.image[i * 3]! * k);
      ctx.image[i * 3 + 1] = Math.min(1, ctx.image[i * 3 + 1]! * k);
      ctx.image[i * 3 + 2] = Math.min(1, ctx.image[i * 3 + 2]! * k);
    }
    if (inside > 0) {
      const depth = 0.03 + 0.05 * valueNoise(px / (1.5 * s), py / (1.5 * s), seed) + 0.04 * clamp01(d / r0 + 1);
      mix(ctx.image, i, depth, depth * 0.9, depth * 0.8, 0.93 * inside * region);
    }
  });
}

const STAIN_COLOURS: readonly (readonly [number, number, number])[] = [
  [0.45, 0.28, 0.08],
  [0.28, 0.42, 0.12],
  [0.12, 0.18, 0.5],
  [0.6, 0.1, 0.12],
];

function stain(ctx: Ctx): void {
  const { rng, s, render } = ctx;
  const [cx, cy] = pickPoint(ctx, 14 * s);
  const blobs = Array.from({ length: 3 + rng.int(3) }, () => ({
    x: cx + rng.normal() * 3 * s,
    y: cy + rng.normal() * 3 * s,
    rx: (3 + 4 * rng.uniform()) * s,
    ry: (3 + 4 * rng.uniform()) * s,
  }));
  const [tr, tg, tb] = STAIN_COLOURS[rng.int(STAIN_COLOURS.length)]!;
  const strength = 0.55 + 0.2 * rng.uniform();
  const reach = 14 * s;
  eachPixel(ctx, cx - reach, cy - reach, cx + reach, cy + reach, (i, px, py) => {
    let f = -Infinity;
    for (const b of blobs) f = Math.max(f, 1 - ((px - b.x) / b.rx) ** 2 - ((py - b.y) / b.ry) ** 2);
    const a = smoothstep(0, 0.4, f) * strength * render.region[i]!;
    if (a <= 0) return;
    // A tint that keeps the texture: the stain colour scaled by the pixel's brightness.
    const lum = 0.3 * ctx.image[i * 3]! + 0.59 * ctx.image[i * 3 + 1]! + 0.11 * ctx.image[i * 3 + 2]!;
    const k = 0.55 + 0.9 * lum;
    mix(ctx.image, i, tr * k, tg * k, tb * k, a);
  });
}

/** A point on the object's outline at least 80% as far from its centroid as its farthest pixel. */
function pickOuterEdge(ctx: Ctx): Point {
  const { size, render } = ctx;
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let i = 0; i < render.region.length; i++) {
    if (render.region[i]! > 0.5) {
      sx += i % size;
      sy += Math.floor(i / size);
      n++;
    }
  }
  const gx = sx / n + 0.5;
  const gy = sy / n + 0.5;
  let far = 0;
  for (let i = 0; i < render.region.length; i++) {
    if (render.region[i]! > 0.5) far = Math.max(far, Math.hypot((i % size) + 0.5 - gx, Math.floor(i / size) + 0.5 - gy));
  }
  return pickPoint(
    ctx,
    4,
    (r) => r > 0.3 && r < 0.7,
    (x, y) => Math.hypot(x - gx, y - gy) >= 0.8 * far,
  );
}

function missing(ctx: Ctx): void {
  const { rng, s, size, render } = ctx;
  const bg = render.background;
  if (!bg) throw new Error('synthetic: a "missing" defect needs a class with a background layer');
  // On an object, bite at its outer edge (not the rim of an inner hole); on a texture, remove a patch anywhere.
  const onEdge = render.region.some((r) => r < 0.5);
  const [cx, cy] = onEdge ? pickOuterEdge(ctx) : pickPoint(ctx, 12 * s);
  const r0 = (onEdge ? 0.09 + 0.05 * rng.uniform() : 0.05 + 0.03 * rng.uniform()) * size;
  const p1 = rng.uniform() * 2 * Math.PI;
  const reach = r0 * 1.3 + 2;
  eachPixel(ctx, cx - reach, cy - reach, cx + reach, cy + reach, (i, px, py) => {
    const phi = Math.atan2(py - cy, px - cx);
    const r = r0 * (1 + 0.15 * Math.sin(2 * phi + p1));
    const a = clamp01(0.5 - (Math.hypot(px - cx, py - cy) - r));
    if (a > 0) mix(ctx.image, i, bg[i * 3]!, bg[i * 3 + 1]!, bg[i * 3 + 2]!, a);
  });
}

const CONTAMINANTS: readonly (readonly [number, number, number])[] = [
  [0.06, 0.05, 0.04],
  [0.55, 0.6, 0.72],
  [0.86, 0.46, 0.1],
];

function contamination(ctx: Ctx): void {
  const { rng, s } = ctx;
  const [cx, cy] = pickPoint(ctx, 14 * s);
  const [cr, cg, cb] = CONTAMINANTS[rng.int(CONTAMINANTS.length)]!;
  const count = 3 + rng.int(5);
  for (let k = 0; k < count; k++) {
    const x = cx + rng.normal() * 4 * s;
    const y = cy + rng.normal() * 4 * s;
    if (rng.uniform() < 0.5) {
      const rx = (0.9 + 1.3 * rng.uniform()) * s;
      const ry = (0.9 + 1.3 * rng.uniform()) * s;
      const a = rng.uniform() * Math.PI;
      const c = Math.cos(a);
      const sn = Math.sin(a);
      const reach = Math.max(rx, ry) + 2;
      eachPixel(ctx, x - reach, y - reach, x + reach, y + reach, (i, px, py) => {
        const u = (c * (px - x) + sn * (py - y)) / rx;
        const v = (-sn * (px - x) + c * (py - y)) / ry;
        const cov = clamp01((1 - Math.hypot(u, v)) * Math.min(rx, ry) + 0.5);
        mix(ctx.image, i, cr, cg, cb, 0.9 * cov * ctx.render.region[i]!);
      });
    } else {
      const a = rng.uniform() * 2 * Math.PI;
      const fibre = walk(rng, [x, y], a, 3 + rng.int(3), 1.6 * s);
      stroke(
        ctx,
        fibre,
        () => 0.45 * s,
        (i, cov) => mix(ctx.image, i, cr, cg, cb, 0.85 * cov),
      );
    }
  }
}

const PAINTERS: Record<DefectType, (ctx: Ctx) => void> = { scratch, crack, hole, stain, missing, contamination };

/** Paints one defect of `type` into `image` (a copy of `render.image`). */
export function paintDefect(type: DefectType, image: Float32Array, render: ClassRender, size: number, rng: Rng): void {
  PAINTERS[type]({ size, s: size / 128, image, render, rng });
}
