/**
 * A one-line progress bar on stderr (redrawn in place on a TTY, one line every few seconds
 * otherwise, so CI logs stay readable).
 */
import { formatDuration, type ProgressCallback } from '@unias/engine';

// moved to the engine (its plan line says how long a run takes); re-exported for the bars' users
export { formatDuration };

export interface ProgressOptions {
  total: number;
  label: string;
  stream?: NodeJS.WriteStream;
  /** Seconds between lines when not a TTY. */
  plainInterval?: number;
  /** Work already done before this bar started (a resumed run): the ETA counts only the rate since. */
  start?: number;
}

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  done(message?: string): void;
}

function formatField(v: string | number): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

export function createProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const start = performance.now();
  let lastPlain = -Infinity;
  const render = (done: number, fields: Record<string, string | number>) => {
    const elapsed = (performance.now() - start) / 1000;
    const frac = o.total > 0 ? Math.min(done / o.total, 1) : 0;
    const since = done - (o.start ?? 0);
    const eta = since > 0 ? (elapsed * Math.max(0, o.total - done)) / since : NaN;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${formatField(v)}`)
      .join('  ');
    return `${o.label} [${bar}] ${done}/${o.total}  ${extra}  ${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}`;
  };
  return {
    update(done, fields = {}) {
      const line = render(done, fields);
      if (tty) stream.write(`\r\x1b[2K${line}`);
      else {
        const now = performance.now() / 1000;
        if (now - lastPlain >= (o.plainInterval ?? 5) || done >= o.total) {
          stream.write(`${line}\n`);
          lastPlain = now;
        }
      }
    },
    done(message) {
      if (tty) stream.write('\n');
      if (message) stream.write(`${message}\n`);
    },
  };
}

/**
 * The engine's progress reports drawn as bars: one bar per stage, the current one finished when
 * its stage completes or the next stage begins. `close()` finishes a bar left open (a stopped run).
 */
export function progressBars(stream?: NodeJS.WriteStream): { readonly onProgress: ProgressCallback; close(): void } {
  let current: { stage: string; bar: Progress; total: number } | null = null;
  const close = () => {
    current?.bar.done();
    current = null;
  };
  return {
    onProgress(stage, done, total, fields) {
      if (current?.stage !== stage || current.total !== total) {
        close();
        // the first report says where the stage starts (past 0 on a resumed run): the ETA counts from there
        current = { stage, total, bar: createProgress({ total, label: stage, start: done, ...(stream ? { stream } : {}) }) };
        if (done === 0) return;
      }
      current.bar.update(done, fields ? { ...fields } : {});
      if (done >= total) close();
    },
    close,
  };
}
