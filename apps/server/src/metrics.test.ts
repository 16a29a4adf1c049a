import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from './metrics.js';

describe('createMetricsRegistry', () => {
  it('writes counters, gauges and cumulative histograms in the text exposition format', () => {
    const r = createMetricsRegistry();
    const c = r.counter('t_requests_total', 'Requests.', ['route', 'status']);
    c.inc({ route: '/a', status: '200' });
    c.inc({ route: '/a', status: '200' }, 2);
    c.inc({ route: 'q"\\\n', status: '500' });
    r.gauge('t_depth', 'Depth.', ['model'], (g) => g.set({ model: 'm' }, 7));
    const h = r.histogram('t_seconds', 'Latency.', ['route'], [0.5, 0.1, 1]);
    for (const v of [0.05, 0.1, 0.3, 2]) h.observe({ route: '/a' }, v);
    expect(r.render()).toBe(
      [
        '# HELP t_requests_total Requests.',
        '# TYPE t_requests_total counter',
        't_requests_total{route="/a",status="200"} 3',
        't_requests_total{route="q\\"\\\\\\n",status="500"} 1',
        '# HELP t_depth Depth.',
        '# TYPE t_depth gauge',
        't_depth{model="m"} 7',
        '# HELP t_seconds Latency.',
        '# TYPE t_seconds histogram',
        't_seconds_bucket{route="/a",le="0.1"} 2',
        't_seconds_bucket{route="/a",le="0.5"} 3',
        't_seconds_bucket{route="/a",le="1"} 3',
        't_seconds_bucket{route="/a",le="+Inf"} 4',
        't_seconds_sum{route="/a"} 2.45',
        't_seconds_count{route="/a"} 4',
        '',
      ].join('\n'),
    );
  });

  it('refuses invalid and duplicate names and decreasing counters', () => {
    const r = createMetricsRegistry();
    r.counter('a_total', 'x', []);
    expect(() => r.counter('a_total', 'x', [])).toThrow(/twice/);
    expect(() => r.gauge('bad-name', 'x', [])).toThrow(/invalid metric name/);
    expect(() => r.counter('b_total', 'x', []).inc({}, -1)).toThrow(/cannot decrease/);
  });
});
