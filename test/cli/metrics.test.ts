import { describe, expect, it } from 'vitest';
import { Histogram, renderMetrics, serveMetrics } from '../../adapters/metrics/prometheus.js';

describe('Prometheus text exposition', () => {
  it('writes HELP/TYPE, escapes label values, and a histogram is cumulative with +Inf = count', () => {
    const h = new Histogram([0.001, 0.01]);
    for (const v of [0.0005, 0.002, 0.002, 5]) h.observe(v);
    const text = renderMetrics([
      { name: 'x_total', help: 'a\\b\nc', type: 'counter', samples: [{ labels: { sa: 'a"b\\c\nd' }, value: 3 }] },
      { name: 'lat_seconds', help: 'latency', type: 'histogram', samples: h.samples() },
    ]);
    expect(text).toBe([
      '# HELP x_total a\\\\b\\nc', '# TYPE x_total counter', 'x_total{sa="a\\"b\\\\c\\nd"} 3',
      '# HELP lat_seconds latency', '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="0.001"} 1', 'lat_seconds_bucket{le="0.01"} 3', 'lat_seconds_bucket{le="+Inf"} 4',
      'lat_seconds_sum 5.0045', 'lat_seconds_count 4', '',
    ].join('\n'));
    expect(() => renderMetrics([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }])).toThrow(RangeError);
  });

  it('serves GET /metrics; other paths are 404 and a failing collect is a 500, never a crash', async () => {
    let fail = false;
    const server = await serveMetrics({ port: 0, collect: () => { if (fail) throw new Error('boom'); return [{ name: 'up', help: 'up', type: 'gauge', samples: [{ value: 1 }] }]; } });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const ok = await fetch(`${base}/metrics`);
      expect(ok.headers.get('content-type')).toContain('version=0.0.4');
      expect(await ok.text()).toContain('\nup 1\n');
      expect((await fetch(`${base}/`)).status).toBe(404);
      fail = true;
      const bad = await fetch(`${base}/metrics`);
      expect([bad.status, await bad.text()]).toEqual([500, 'collect failed: boom\n']);
    } finally {
      server.close();
    }
  });
});
