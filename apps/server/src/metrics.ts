/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and histograms with
 * labels. Written here rather than taken from prom-client because the server needs only these three
 * kinds and no default process collectors beyond two gauges.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Counter {
  inc(labels?: Labels, value?: number): void;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export interface MetricsRegistry {
  counter(name: string, help: string, labelNames: readonly string[]): Counter;
  /** A gauge; `collect` (if given) is called at each scrape to set current values. */
  gauge(name: string, help: string, labelNames: readonly string[], collect?: (g: Gauge) => void): Gauge;
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram;
  /** The text exposition of every metric. */
  render(): string;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

interface Family {
  render(lines: string[]): void;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function createMetricsRegistry(): MetricsRegistry {
  const families: Family[] = [];
  const names = new Set<string>();

  function register(name: string, labelNames: readonly string[]): void {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name '${name}'`);
    if (names.has(name)) throw new Error(`metric '${name}' is registered twice`);
    names.add(name);
    for (const l of labelNames) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l)) throw new Error(`invalid label name '${l}'`);
  }

  function valuesOf(labelNames: readonly string[], labels: Labels | undefined): string[] {
    return labelNames.map((n) => labels?.[n] ?? '');
  }

  return {
    counter(name, help, labelNames) {
      register(name, labelNames);
      const series = new Map<string, { values: string[]; value: number }>();
      families.push({
        render(lines) {
          lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} counter`);
          for (const s of series.values()) lines.push(`${name}${labelText(labelNames, s.values)} ${formatValue(s.value)}`);
        },
      });
      return {
        inc(labels, value = 1) {
          if (value < 0) throw new Error(`counter ${name} cannot decrease`);
          const values = valuesOf(labelNames, labels);
          const key = values.join('\u0000');
          const s = series.get(key);
          if (s) s.value += value;
          else series.set(key, { values, value });
        },
      };
    },

    gauge(name, help, labelNames, collect) {
      register(name, labelNames);
      const series = new Map<string, { values: string[]; value: number }>();
      const gauge: Gauge = {
        set(labels, value) {
          const values = valuesOf(labelNames, labels);
          series.set(values.join('\u0000'), { values, value });
        },
      };
      families.push({
        render(lines) {
          collect?.(gauge);
          lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} gauge`);
          for (const s of series.values()) lines.push(`${name}${labelText(labelNames, s.values)} ${formatValue(s.value)}`);
        },
      });
      return gauge;
    },

    histogram(name, help, labelNames, buckets) {
      register(name, labelNames);
      const bounds = [...buckets].sort((a, b) => a - b);
      const series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();
      families.push({
        render(lines) {
          lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`);
          for (const s of series.values()) {
            let cumulative = 0;
            bounds.forEach((b, i) => {
              cumulative += s.counts[i]!;
              lines.push(`${name}_bucket${labelText(labelNames, s.values, ['le', formatValue(b)])} ${cumulative}`);
            });
            lines.push(`${name}_bucket${labelText(labelNames, s.values, ['le', '+Inf'])} ${s.count}`);
            lines.push(`${name}_sum${labelText(labelNames, s.values)} ${formatValue(s.sum)}`);
            lines.push(`${name}_count${labelText(labelNames, s.values)} ${s.count}`);
          }
        },
      });
      return {
        observe(labels, value) {
          const values = valuesOf(labelNames, labels);
          const key = values.join('\u0000');
          let s = series.get(key);
          if (!s) {
            s = { values, counts: bounds.map(() => 0), sum: 0, count: 0 };
            series.set(key, s);
          }
          const i = bounds.findIndex((b) => value <= b);
          if (i >= 0) s.counts[i]!++;
          s.sum += value;
          s.count++;
        },
      };
    },

    render() {
      const lines: string[] = [];
      for (const f of families) f.render(lines);
      return lines.join('\n') + '\n';
    },
  };
}
