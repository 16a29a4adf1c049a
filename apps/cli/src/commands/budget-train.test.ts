/**
 * `unias train --time-budget`: the length comes from the measured speed, the schedule is laid over
 * it, and the measuring leaves no trace: the budgeted run equals, bit for bit, a run given the
 * same number of steps directly.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '@unias/graph';
import { STEP_TIME_MARGIN, type RunRecord } from '@unias/engine';
import { runCli, tempDir, tinyConfigFile, tinyDataset } from '../testing/helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let config: string;

beforeAll(async () => {
  tmp = await tempDir('budget');
  const data = await tinyDataset(join(tmp.dir, 'data'));
  config = await tinyConfigFile(tmp.dir, data);
});
afterAll(async () => tmp.cleanup());

describe('unias train --time-budget', () => {
  it('sizes the run from measured speed, says so, and equals a run of that many steps bit for bit', async () => {
    const budgeted = join(tmp.dir, 'budgeted');
    const r = await runCli(['train', '--config', config, '--time-budget', '25s', '--out', budgeted, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(await readFile(join(budgeted, 'run.json'), 'utf8')) as RunRecord;
    const b = rec.fixed.budget!;
    expect(b.seconds).toBe(25);
    // how many steps fit depends on the machine's load; the plan never spends more than the budget on steps
    expect(b.steps).toBeGreaterThanOrEqual(1);
    expect(b.stepSeconds).toBeGreaterThan(0);
    // planned with the measured step time times the margin (runs average slower than calibration)
    if (b.steps > 1) expect(b.steps * b.stepSeconds * STEP_TIME_MARGIN).toBeLessThanOrEqual(b.seconds);
    expect(rec.settings.train.steps).toBe(b.steps);
    expect(rec.fixed.lrStepSteps).toBe(Math.max(1, Math.round(0.4 * b.steps)));
    expect(r.stderr).toMatch(new RegExp(`time budget 25s: [\\d.]+ s per step measured -> ${b.steps} steps`));
    expect(r.stdout).toMatch(new RegExp(`trained ${b.steps} steps`));

    const fixed = join(tmp.dir, 'fixed');
    const f = await runCli(['train', '--config', config, '--steps', String(b.steps), '--out', fixed, '--quiet']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(new RegExp(`${b.steps} steps at [\\d.]+ s per step measured: about`));
    const a = (await readSafetensorsFile(join(budgeted, 'model.safetensors'))).tensors;
    const c = (await readSafetensorsFile(join(fixed, 'model.safetensors'))).tensors;
    expect([...a.keys()].sort()).toEqual([...c.keys()].sort());
    const differing = [...a].filter(([name, t]) => Buffer.compare(Buffer.from(t.bytes), Buffer.from(c.get(name)!.bytes)) !== 0).map(([n]) => n);
    expect(a.size).toBeGreaterThan(10);
    expect(differing).toEqual([]);
  });

  it('is refused beside --epochs in a config file only when both are in the file; a flag replaces the other length', async () => {
    const out = join(tmp.dir, 'flag-wins');
    const r = await runCli(['train', '--config', config, '--epochs', '1', '--time-budget', '1h', '--steps', '2', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(await readFile(join(out, 'run.json'), 'utf8')) as RunRecord;
    expect(rec.settings.train).toMatchObject({ steps: 2, epochs: null, timeBudget: null });
  });

  it('names a bad duration', async () => {
    const r = await runCli(['train', '--config', config, '--time-budget', 'soon', '--out', join(tmp.dir, 'bad'), '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/timeBudget: expected seconds or a duration such as "30m", got "soon"/);
  });
});
