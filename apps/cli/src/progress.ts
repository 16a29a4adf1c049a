/**
 * A one-line progress bar on stderr (redrawn in place on a TTY, one line every few seconds
 * otherwise, so CI logs stay readable).
 */
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

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
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
