// Stand-ins for what watches a sluice process: a scraper of its /metrics, a Pushgateway that keeps
// what it is pushed, an OTLP/HTTP collector that keeps the spans, and a sink that holds each write
// until the test lets it go (so a test reads the metrics at a known point of the run, not a time).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One sample of an exposition text. */
export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the Prometheus text format (the samples; comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
export function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

/** Sums the samples `name` (over every label set that includes `labels`). */
export function sumOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

export async function scrape(url: string): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  const text = await response.text();
  return { text, samples: parseMetrics(text) };
}

/** Waits until the child's stderr holds a `metrics at URL` line; returns the URL. */
export async function metricsUrlOf(output: () => string, exited: () => boolean): Promise<string> {
  for (;;) {
    const match = /metrics at (http:\/\/\S+\/metrics)/.exec(output());
    if (match) return match[1]!;
    if (exited()) throw new Error(`no metrics line before the process ended:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One request a stand-in kept. */
export interface Kept {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A local HTTP server that keeps every request; `answer` decides the response (200 by default). */
export class StandIn {
  readonly requests: Kept[] = [];
  private waiters: Array<() => void> = [];
  answer: (request: Kept, res: ServerResponse) => void | Promise<void> = (_, res) => void res.end();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<StandIn> {
    let self!: StandIn;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const kept = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        self.requests.push(kept);
        for (const wake of self.waiters.splice(0)) wake();
        void self.answer(kept, res);
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    self = new StandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  /** Resolves once `n` requests arrived (or `failed()` says the process it waits on is gone). */
  async received(n: number, failed: () => string | undefined = () => undefined): Promise<void> {
    while (this.requests.length < n) {
      const why = failed();
      if (why) throw new Error(`${this.requests.length} of ${n} requests arrived: ${why}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A sink endpoint whose responses wait until the test releases them, one by one or all. */
export class HeldSink {
  private held: ServerResponse[] = [];
  private open = false;

  constructor(readonly server: StandIn) {
    server.answer = (_, res) => {
      if (this.open) res.end('{}');
      else this.held.push(res);
    };
  }

  /** Answers the oldest held request. */
  releaseOne(): void {
    this.held.shift()?.end('{}');
  }

  /** Answers everything held, and everything from now on at once. */
  releaseAll(): void {
    this.open = true;
    for (const res of this.held.splice(0)) res.end('{}');
  }
}
