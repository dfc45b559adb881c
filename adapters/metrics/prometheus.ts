/**
 * Metrics in the Prometheus text exposition format (version 0.0.4) over plain `node:http`: a
 * scrape calls `collect()`, which reads the gateway's live counters at that moment; nothing is
 * counted twice and nothing runs between scrapes. Latencies go into a fixed-bucket histogram.
 */
import { createServer, type Server } from 'node:http';

/** One sample: a metric's labels and value. */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** A histogram's `_bucket`, `_sum` or `_count`. */
  suffix?: '_bucket' | '_sum' | '_count';
}

/** One metric family as the text format writes it. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Sample[];
}

// Text format: label values escape backslash, double quote and newline; HELP escapes backslash and newline.
const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const number = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

/**
 * The text exposition of metric families. Throws `RangeError` on a name the format does not allow.
 *
 * @example
 * renderMetrics([{ name: 'ipsec_es_sas', help: 'SAs by state', type: 'gauge', samples: [{ labels: { state: 'mature' }, value: 2 }] }])
 */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new RangeError(`metric name: ${f.name} is not a Prometheus metric name`);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const entries = Object.entries(s.labels ?? {});
      for (const [k] of entries) if (!LABEL_NAME.test(k)) throw new RangeError(`label name: ${k} is not a Prometheus label name`);
      const labels = entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      lines.push(`${f.name}${s.suffix ?? ''}${labels} ${number(s.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A histogram with fixed upper bounds (seconds), cumulative as the format wants.
 *
 * @example
 * const h = new Histogram([0.001, 0.01, 0.1]); h.observe(0.004); h.samples();
 */
export class Histogram {
  readonly #bounds: number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(bounds: readonly number[]) {
    if (bounds.length === 0 || bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!)) throw new RangeError('bounds: must be increasing and not empty');
    this.#bounds = [...bounds];
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.#bounds.length; i++) if (value <= this.#bounds[i]!) this.#counts[i]!++;
  }

  get count(): number {
    return this.#count;
  }

  /** `_bucket` (cumulative, with `le`), `_sum` and `_count` samples. */
  samples(labels: Record<string, string> = {}): Sample[] {
    return [
      ...this.#bounds.map((b, i) => ({ labels: { ...labels, le: String(b) }, value: this.#counts[i]!, suffix: '_bucket' as const })),
      { labels: { ...labels, le: '+Inf' }, value: this.#count, suffix: '_bucket' },
      { labels, value: this.#sum, suffix: '_sum' },
      { labels, value: this.#count, suffix: '_count' },
    ];
  }
}

/**
 * Serves `GET /metrics` (anything else: 404) on `port` of `host` (default 127.0.0.1: metrics
 * say a lot about a gateway; expose them on purpose). A `collect` that throws is a 500 with its
 * message, never a crash.
 *
 * @example
 * const server = await serveMetrics({ port: 9479, collect: () => families() });
 */
export async function serveMetrics(options: { port: number; host?: string; collect: () => MetricFamily[] | Promise<MetricFamily[]> }): Promise<Server & { port: number }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    Promise.resolve()
      .then(() => options.collect())
      .then(
        (families) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderMetrics(families)),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`collect failed: ${(e as Error).message}\n`),
      );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, options.host ?? '127.0.0.1', () => resolve()));
  const address = server.address();
  return Object.assign(server, { port: typeof address === 'object' && address ? address.port : options.port });
}
