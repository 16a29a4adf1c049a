import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseHtml } from 'node-html-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../testing/helpers.js';

describe('unias demo --quick', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let first: Awaited<ReturnType<typeof runCli>>;

  beforeAll(async () => {
    tmp = await tempDir('demo');
    first = await runCli(['demo', '--quick', '--out', tmp.dir, '--quiet']);
  });
  afterAll(async () => tmp.cleanup());

  it('generates the data, trains, and shows that training helped: pixel AP and AUROC up from the untrained model', async () => {
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/generated \d+ images/);
    expect(first.stdout).toMatch(/^class\s+pAUROC/m);
    const m = /pixel AP untrained ([\d.]+) -> trained ([\d.]+); pixel AUROC ([\d.]+) -> ([\d.]+)/.exec(first.stdout);
    expect(m, first.stdout).not.toBeNull();
    const [before, after, aurocBefore, aurocAfter] = m!.slice(1).map(Number) as [number, number, number, number];
    expect(after).toBeGreaterThan(2 * before);
    expect(aurocAfter).toBeGreaterThan(aurocBefore + 0.1);
    // the numbers printed are those of metrics.json
    const metrics = JSON.parse(await readFile(join(tmp.dir, 'metrics.json'), 'utf8')) as { mean: { pixel_ap: number } };
    expect(metrics.mean.pixel_ap.toFixed(3)).toBe(after.toFixed(3));
  });

  it('prints the report path; the report holds both classes and the before/after line', async () => {
    const path = /^report: (.+)$/m.exec(first.stdout)?.[1];
    expect(path).toBe(join(tmp.dir, 'report.html'));
    const root = parseHtml(await readFile(path!, 'utf8'));
    expect(root.querySelectorAll('tr[data-class]').map((r) => r.getAttribute('data-class'))).toEqual(['fabric', 'washer']);
    expect(root.querySelector('ul.meta')!.text).toMatch(/pixel AP untrained .* -> trained/);
  });

  it('a second run reuses the dataset and gives the same result', async () => {
    const again = await runCli(['demo', '--quick', '--out', tmp.dir, '--quiet']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/reused the dataset/);
    // same seed, same data: the same numbers
    expect(/pixel AP untrained .*$/m.exec(again.stdout)?.[0]).toBe(/pixel AP untrained .*$/m.exec(first.stdout)?.[0]);
  });
});
