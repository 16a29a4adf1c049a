/** A curve (ROC, PR, PRO) as a small self-contained SVG with axes, a diagonal where it helps, and the area. */
import type { CurvePoints } from '@unias/metrics';

export interface CurveSvgOptions {
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Shown under the title, e.g. "AUROC 0.973". */
  readonly note?: string;
  /** Draw y = x (ROC). */
  readonly diagonal?: boolean;
  /** Largest x shown (PRO: the FPR limit). Default 1. */
  readonly xMax?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function curveSvg(c: CurvePoints, o: CurveSvgOptions): string {
  const W = 220;
  const H = 190;
  const m = { l: 36, r: 10, t: 30, b: 30 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const xMax = o.xMax ?? 1;
  const X = (x: number) => m.l + (Math.min(x, xMax) / xMax) * pw;
  const Y = (y: number) => m.t + (1 - Math.max(0, Math.min(1, y))) * ph;
  const pts: string[] = [];
  for (let i = 0; i < c.x.length; i++) {
    if (c.x[i]! > xMax + 1e-12 && i > 0 && c.x[i - 1]! > xMax) break;
    pts.push(`${X(c.x[i]!).toFixed(1)},${Y(c.y[i]!).toFixed(1)}`);
  }
  const ticks = [0, 0.5, 1]
    .map(
      (t) =>
        `<text x="${X(t * xMax).toFixed(1)}" y="${H - m.b + 12}" text-anchor="middle">${+(t * xMax).toFixed(2)}</text><text x="${m.l - 4}" y="${(Y(t) + 3).toFixed(1)}" text-anchor="end">${t}</text>`,
    )
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="curve" data-curve="${escapeXml(o.id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(o.title)}">`,
    `<text x="${W / 2}" y="12" text-anchor="middle" class="t">${escapeXml(o.title)}</text>`,
    o.note ? `<text x="${W / 2}" y="24" text-anchor="middle" class="n">${escapeXml(o.note)}</text>` : '',
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" class="frame"/>`,
    o.diagonal ? `<line x1="${X(0)}" y1="${Y(0)}" x2="${X(xMax)}" y2="${Y(1)}" class="diag"/>` : '',
    `<polyline points="${pts.join(' ')}" class="line"/>`,
    ticks,
    `<text x="${m.l + pw / 2}" y="${H - 4}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
    `<text x="10" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 10 ${m.t + ph / 2})">${escapeXml(o.yLabel)}</text>`,
    '</svg>',
  ].join('');
}
