/**
 * Transparent huge pages for onnxruntime's and Node's large buffers. Where the kernel's THP mode is
 * `madvise` (Debian's and Ubuntu's default), glibc backs its mmap'd allocations with 2 MiB pages only
 * in a process started with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (glibc 2.35 and later). A
 * training step then takes tens of page faults instead of thousands and its memory-bound kernels
 * run faster (docs/benchmarks.md). glibc reads the tunable once, when the process starts: whoever
 * starts the process has to set it (`withHugePages`; the `unias` command starts itself again).
 */
import { readFileSync } from 'node:fs';

export const HUGE_PAGE_TUNABLE = 'glibc.malloc.hugetlb=1';
/** Set to 0 to keep 4 KiB pages (and the `unias` command from starting itself again). */
export const HUGE_PAGE_OPT_OUT = 'UNIAS_HUGE_PAGES';
const THP_FILE = '/sys/kernel/mm/transparent_hugepage/enabled';

export type ThpMode = 'always' | 'madvise' | 'never';

/** What decides whether a process gets huge pages. */
export interface HugePageFacts {
  readonly platform: NodeJS.Platform;
  /** The kernel's THP mode; undefined where the kernel has none (or it cannot be read). */
  readonly thp: ThpMode | undefined;
  /** This process's glibc version; undefined under another C library. */
  readonly glibc: string | undefined;
  /** GLIBC_TUNABLES as this process started with it. */
  readonly tunables: string | undefined;
  /** UNIAS_HUGE_PAGES=0. */
  readonly optOut: boolean;
}

export interface HugePageStatus {
  /** Large allocations of this process get huge pages. */
  readonly active: boolean;
  /** A process started with `withHugePages(env)` would get them where this one does not. */
  readonly canEnable: boolean;
  readonly reason: string;
}

/** The bracketed mode of /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never"). */
export function parseThpMode(text: string): ThpMode | undefined {
  const mode = /\[(\w+)\]/.exec(text)?.[1];
  return mode === 'always' || mode === 'madvise' || mode === 'never' ? mode : undefined;
}

/** The value this GLIBC_TUNABLES gives glibc.malloc.hugetlb, if any (colon-separated name=value pairs). */
function hugetlbValue(tunables: string | undefined): string | undefined {
  for (const pair of (tunables ?? '').split(':')) {
    const [name, value] = pair.split('=');
    if (name === 'glibc.malloc.hugetlb') return value ?? '';
  }
  return undefined;
}

function glibcAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

export function readHugePageFacts(env: NodeJS.ProcessEnv = process.env): HugePageFacts {
  let thp: ThpMode | undefined;
  try {
    thp = process.platform === 'linux' ? parseThpMode(readFileSync(THP_FILE, 'utf8')) : undefined;
  } catch {
    thp = undefined;
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return { platform: process.platform, thp, glibc: header?.glibcVersionRuntime, tunables: env['GLIBC_TUNABLES'], optOut: env[HUGE_PAGE_OPT_OUT] === '0' };
}

export function hugePageStatus(facts: HugePageFacts = readHugePageFacts()): HugePageStatus {
  const off = (reason: string): HugePageStatus => ({ active: false, canEnable: false, reason });
  if (facts.platform !== 'linux') return off(`not on Linux (${facts.platform})`);
  if (facts.thp === undefined) return off(`the kernel has no transparent huge pages (${THP_FILE})`);
  if (facts.thp === 'never') return off(`transparent huge pages are off in the kernel (${THP_FILE}: never)`);
  if (facts.thp === 'always') return { active: true, canEnable: false, reason: 'the kernel gives every large allocation huge pages (THP always)' };
  if (facts.glibc === undefined) return off('THP madvise, and this C library is not glibc (no malloc.hugetlb tunable)');
  if (!glibcAtLeast(facts.glibc, 2, 35)) return off(`THP madvise, and glibc ${facts.glibc} has no malloc.hugetlb tunable (2.35 and later)`);
  const value = hugetlbValue(facts.tunables);
  if (value === '1') return { active: true, canEnable: false, reason: `THP madvise, and this process started with GLIBC_TUNABLES=${facts.tunables}` };
  if (value !== undefined) return off(`GLIBC_TUNABLES sets glibc.malloc.hugetlb=${value}: left as it is`);
  if (facts.optOut) return off(`THP madvise, and ${HUGE_PAGE_OPT_OUT}=0 keeps 4 KiB pages`);
  return { active: false, canEnable: true, reason: `THP madvise, and this process started without ${HUGE_PAGE_TUNABLE}` };
}

/** `env` with the huge-page tunable added to GLIBC_TUNABLES (the other tunables kept). */
export function withHugePages(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (hugetlbValue(env['GLIBC_TUNABLES']) !== undefined) return { ...env };
  const tunables = env['GLIBC_TUNABLES'] ? `${env['GLIBC_TUNABLES']}:${HUGE_PAGE_TUNABLE}` : HUGE_PAGE_TUNABLE;
  return { ...env, GLIBC_TUNABLES: tunables };
}
