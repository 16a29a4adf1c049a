/** Pairs defective images with mask files by name: `NAME_mask.EXT` or `NAME.EXT`, any image extension. */
import { join } from 'node:path';
import type { IssueCollector } from './issues.js';
import { stemOf } from './files.js';

export interface MaskPairing {
  /** Image file name -> mask path (only images whose mask was found exactly once). */
  readonly masks: Map<string, string>;
  /** Image file names without a mask. */
  readonly missing: string[];
}

/**
 * Matches every image to its mask. An image with two candidate masks, or a mask that matches no
 * image, is reported (never silently dropped); images without a mask are returned in `missing`.
 */
export function pairMasks(imageDir: string, images: readonly string[], maskDir: string, maskFiles: readonly string[], issues: IssueCollector): MaskPairing {
  const byKey = new Map<string, string[]>();
  for (const m of maskFiles) {
    const stem = stemOf(m);
    const keys = stem.endsWith('_mask') ? [stem.slice(0, -'_mask'.length), stem] : [stem];
    for (const k of keys) byKey.set(k, [...(byKey.get(k) ?? []), m]);
  }
  const used = new Set<string>();
  const masks = new Map<string, string>();
  const missing: string[] = [];
  for (const img of images) {
    const cands = byKey.get(stemOf(img)) ?? [];
    // Prefer the MVTec spelling NAME_mask over a bare NAME when both exist.
    const preferred = cands.filter((c) => stemOf(c).endsWith('_mask') && stemOf(c).slice(0, -5) === stemOf(img));
    const pick = preferred.length > 0 ? preferred : cands;
    if (pick.length === 0) {
      missing.push(img);
    } else if (pick.length > 1) {
      issues.skipSample(join(imageDir, img), `several masks match this image in ${maskDir}: ${pick.join(', ')}`);
      for (const c of pick) used.add(c);
    } else {
      masks.set(img, join(maskDir, pick[0]!));
      used.add(pick[0]!);
    }
  }
  for (const m of maskFiles) {
    if (!used.has(m)) issues.ignoreFile(join(maskDir, m), `mask matches no image in ${imageDir}`);
  }
  return { masks, missing };
}
