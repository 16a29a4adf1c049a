import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hugePageStatus, parseThpMode, readHugePageFacts, withHugePages, type HugePageFacts } from './huge-pages.js';

const madvise: HugePageFacts = { platform: 'linux', thp: 'madvise', glibc: '2.36', tunables: undefined, optOut: false };

describe('huge pages', () => {
  it('reads the bracketed THP mode', () => {
    expect(parseThpMode('always [madvise] never\n')).toBe('madvise');
    expect(parseThpMode('[always] madvise never')).toBe('always');
    expect(parseThpMode('always madvise [never]')).toBe('never');
    expect(parseThpMode('garbage')).toBeUndefined();
  });

  it('can be enabled only where THP is madvise under glibc 2.35+, and says why not elsewhere', () => {
    expect(hugePageStatus(madvise)).toMatchObject({ active: false, canEnable: true });
    expect(hugePageStatus({ ...madvise, tunables: 'glibc.malloc.hugetlb=1' })).toMatchObject({ active: true, canEnable: false });
    expect(hugePageStatus({ ...madvise, tunables: 'glibc.malloc.trim_threshold=1:glibc.malloc.hugetlb=1' }).active).toBe(true);
    const cases: Array<[Partial<HugePageFacts>, RegExp]> = [
      [{ platform: 'darwin' }, /not on Linux \(darwin\)/],
      [{ thp: undefined }, /no transparent huge pages/],
      [{ thp: 'never' }, /off in the kernel/],
      [{ glibc: undefined }, /not glibc/],
      [{ glibc: '2.31' }, /glibc 2\.31 has no malloc\.hugetlb/],
      [{ tunables: 'glibc.malloc.hugetlb=0' }, /hugetlb=0: left as it is/],
      [{ optOut: true }, /UNIAS_HUGE_PAGES=0/],
    ];
    for (const [change, reason] of cases) {
      const s = hugePageStatus({ ...madvise, ...change });
      expect(s, JSON.stringify(change)).toMatchObject({ active: false, canEnable: false });
      expect(s.reason).toMatch(reason);
    }
    expect(hugePageStatus({ ...madvise, thp: 'always' })).toMatchObject({ active: true, canEnable: false });
    expect(hugePageStatus({ ...madvise, glibc: '2.40' }).canEnable).toBe(true);
  });

  it('adds the tunable to the environment, keeping the other tunables and a choice already made', () => {
    expect(withHugePages({ A: '1' })).toEqual({ A: '1', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' });
    expect(withHugePages({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=9' })['GLIBC_TUNABLES']).toBe('glibc.malloc.trim_threshold=9:glibc.malloc.hugetlb=1');
    expect(withHugePages({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' })['GLIBC_TUNABLES']).toBe('glibc.malloc.hugetlb=0');
  });

  // The truth is the kernel's: a process that touches 64 MiB takes ~16k page faults in 4 KiB pages
  // and ~32 in 2 MiB ones.
  const here = hugePageStatus(readHugePageFacts({}));
  it.skipIf(!here.canEnable)(`a process started with withHugePages touches 64 MiB in huge pages${here.canEnable ? '' : ` (skipped: ${here.reason})`}`, () => {
    const script = [
      'const before = process.resourceUsage().minorPageFault;',
      'const a = new Float32Array(16 * 1024 * 1024); for (let i = 0; i < a.length; i += 1024) a[i] = 1;',
      'process.stdout.write(String(process.resourceUsage().minorPageFault - before));',
    ].join('\n');
    const faults = (env: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return Number(r.stdout);
    };
    const plain: NodeJS.ProcessEnv = { ...process.env };
    delete plain['GLIBC_TUNABLES'];
    expect(faults(plain)).toBeGreaterThan(12_000);
    expect(faults(withHugePages(plain))).toBeLessThan(2_000);
  });
});
