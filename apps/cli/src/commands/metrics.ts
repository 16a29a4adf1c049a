import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { evaluateMapsFile } from '@unias/metrics';
import { writeFileAtomic } from '@unias/graph';
import type { Command } from '../command.js';
import { flag, num, parse, requireStr, str } from '../args.js';
import { UserError } from '../errors.js';
import { withoutCurves } from '@unias/engine';
import { metricsTable } from '../report/table.js';

const USAGE = `usage: unias metrics --input MAPS.safetensors [--out FILE] [--table]

Metrics of any model's anomaly maps: the file holds <class>.pred (float maps, N x H x W or
N x 1 x H x W) and <class>.mask (0/1, same shape) for each class. Prints the JSON report
{ classes: {<class>: {pixel_auroc, pixel_ap, pixel_f1_max, dsc, iou, aupro, image_auroc, image_ap,
image_f1_max}}, mean: {...}, thresholds, counts, warnings, options } (null where undefined).

  --input FILE      the maps file
  --out FILE        also write the JSON there
  --table           print the table instead of the JSON
  --pro-fpr-limit X AU-PRO's FPR limit (default 0.3)`;

const OPTIONS = {
  input: { type: 'string' },
  out: { type: 'string' },
  table: { type: 'boolean' },
  'pro-fpr-limit': { type: 'string' },
} as const;

export const command: Command = {
  name: 'metrics',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, OPTIONS);
    const input = resolve(requireStr(args, 'input'));
    const st = await stat(input).catch(() => null);
    if (!st) throw new UserError(`${input}: no such file`);
    if (!st.isFile()) throw new UserError(`${input}: not a file`);
    const limit = num(args, 'pro-fpr-limit', { min: 1e-6, max: 1 });
    let report;
    try {
      report = await evaluateMapsFile(input, limit !== undefined ? { proFprLimit: limit } : {});
    } catch (e) {
      throw new UserError((e as Error).message.split('\n')[0]!);
    }
    const json = `${JSON.stringify(withoutCurves(report), null, 2)}\n`;
    const out = str(args, 'out');
    if (out) await writeFileAtomic(resolve(out), json);
    process.stdout.write(flag(args, 'table') ? `${metricsTable(report)}\n` : json);
  },
};
