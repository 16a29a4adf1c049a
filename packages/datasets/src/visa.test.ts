import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import { gradient, makeTempDir, rectMask, writeJpeg, writePng } from './testing/fixtures.js';
import { loadVisa } from './visa.js';

let root = '';
let cleanup: () => Promise<void> = async () => {};
beforeEach(async () => {
  ({ dir: root, cleanup } = await makeTempDir('visa'));
});
afterEach(() => cleanup());

type Row = [string, string, string, string, string];

/** Writes the images a VisA csv lists and the csv itself. */
async function writeVisa(rows: readonly Row[], extraCsv = ''): Promise<void> {
  for (const [, , label, image, mask] of rows) {
    await writeJpeg(join(root, image), gradient(16, 16, image.length));
    if (mask) await writePng(join(root, mask), rectMask(16, 16, 3, 3, 8, 8));
    void label;
  }
  await mkdir(join(root, 'split_csv'), { recursive: true });
  const text = ['object,split,label,image,mask', ...rows.map((r) => r.join(',')), extraCsv].join('\r\n');
  await writeFile(join(root, 'split_csv', '1cls.csv'), text);
}

const BASE: Row[] = [
  ['candle', 'train', 'normal', 'candle/Data/Images/Normal/0000.JPG', ''],
  ['candle', 'train', 'normal', 'candle/Data/Images/Normal/0001.JPG', ''],
  ['candle', 'test', 'normal', 'candle/Data/Images/Normal/0002.JPG', ''],
  ['candle', 'test', 'anomaly', 'candle/Data/Images/Anomaly/000.JPG', 'candle/Data/Masks/Anomaly/000.png'],
  ['fryum', 'train', 'normal', 'fryum/Data/Images/Normal/0000.JPG', ''],
  ['fryum', 'test', 'anomaly', 'fryum/Data/Images/Anomaly/000.JPG', 'fryum/Data/Masks/Anomaly/000.png'],
];

describe('loadVisa', () => {
  it('reads the split csv: classes, splits, labels and masks', async () => {
    await writeVisa(BASE);
    const ds = await loadVisa({ root });
    expect(ds.format).toBe('visa');
    expect(ds.classes).toEqual(['candle', 'fryum']);
    expect(ds.samples).toHaveLength(6);
    expect(ds.samples[3]).toEqual({
      path: join(root, 'candle/Data/Images/Anomaly/000.JPG'),
      className: 'candle',
      split: 'test',
      label: 1,
      defectType: 'anomaly',
      maskPath: join(root, 'candle/Data/Masks/Anomaly/000.png'),
    });
    expect(ds.samples.filter((s) => s.split === 'train').every((s) => s.label === 0 && s.maskPath === null)).toBe(true);
    const only = await loadVisa({ root, classes: ['fryum'] });
    expect(only.classes).toEqual(['fryum']);
    expect(only.samples).toHaveLength(2);
  });

  it('refuses a normal row with a mask, an anomaly without one, a bad label, and a missing file', async () => {
    await writeVisa(BASE);
    const rows: Row[] = [
      ...BASE,
      ['candle', 'test', 'normal', 'candle/Data/Images/Normal/0003.JPG', 'candle/Data/Masks/Anomaly/000.png'],
      ['candle', 'test', 'anomaly', 'candle/Data/Images/Anomaly/001.JPG', ''],
      ['candle', 'test', 'weird', 'candle/Data/Images/Anomaly/002.JPG', ''],
    ];
    await writeVisa(rows, 'candle,test,anomaly,candle/Data/Images/Anomaly/404.JPG,candle/Data/Masks/Anomaly/000.png');
    const err = await loadVisa({ root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    const problems = (err as DatasetError).issues.map((i) => `${i.file} ${i.problem}`);
    expect(problems).toEqual([
      expect.stringMatching(/Normal\/0003\.JPG normal image has a mask/),
      expect.stringMatching(/Anomaly\/001\.JPG defective image has no mask/),
      expect.stringMatching(/1cls\.csv:10 label must be normal or anomaly, got "weird"/),
      expect.stringMatching(/Anomaly\/404\.JPG image listed in .*1cls\.csv:11 does not exist/),
    ]);
    const ds = await loadVisa({ root, onBadInput: 'skip' });
    expect(ds.samples).toHaveLength(6);
    expect(ds.report.issues).toHaveLength(4);
  });

  it('names a missing split file and a missing column', async () => {
    await expect(loadVisa({ root })).rejects.toThrow(/1cls\.csv: cannot read the VisA split file \(ENOENT\)/);
    await mkdir(join(root, 'split_csv'), { recursive: true });
    await writeFile(join(root, 'split_csv', '1cls.csv'), 'object,split,image,mask\n');
    await expect(loadVisa({ root })).rejects.toThrow(/header lacks column "label"/);
  });
});
