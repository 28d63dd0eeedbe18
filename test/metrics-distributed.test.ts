// `--metrics` on `sluice worker` and on a distributed coordinator, `--metrics-push` on the
// coordinator and on a `--threads` run, through the real CLI: each worker serves its own
// partitions and its own share of the counts, the workers' shares add up to the report, and the
// pushed totals of the combined run equal its report. Real Redis at 127.0.0.1:6379
// (SLUICE_TEST_REDIS_URL), one key prefix per test, deleted afterwards.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, start, tempDir } from './support/cli.js';
import { dropKeys, QUEUE_KEY, REDIS_URL, uniquePrefix } from './support/distributed.js';
import { metricsUrlOf, parseMetrics, scrape, StandIn, sumOf, valueOf } from './support/prometheus.js';

const FILES = 4;
const PER_FILE = 600;
const RECORDS = FILES * PER_FILE;

let dir: string;
let gateway: StandIn;
const prefixes: string[] = [];
const children: Array<ReturnType<typeof start>> = [];

beforeAll(async () => {
  gateway = await StandIn.start();
  dir = tempDir('sluice-metrics-dist-');
  mkdirSync(join(dir, 'data'));
  for (let f = 0; f < FILES; f++) {
    const lines = Array.from({ length: PER_FILE }, (_, i) => JSON.stringify({ id: f * PER_FILE + i }));
    writeFileSync(join(dir, 'data', `part-${f}.jsonl`), `${lines.join('\n')}\n`);
  }
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: dist-metrics
batch: { size: 100 }
source: { use: file, with: { path: "data/*.jsonl" } }
steps:
  - { id: thirds, use: filter, with: { where: record.id % 3 != 0 } }
sink: { use: file, with: { path: "out/result.jsonl" } }
`,
  );
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const prefix of prefixes) await dropKeys(prefix);
  await gateway.close();
});

interface Report {
  status: string;
  counters: { read: number; written: number; filtered: number };
  steps: Array<{ id: string; out: number; filtered: number }>;
  partitions: Array<{ index: number; status: string; worker: string | null; records: number }>;
}

function worker(prefix: string, name: string) {
  const child = start(['worker', '--queue', REDIS_URL, '--prefix', prefix, '--lock-timeout', '3s', '--name', name, '--metrics', '127.0.0.1:0'], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY } });
  children.push(child);
  return child;
}

const gone = (child: ReturnType<typeof start>) => () => child.exitCode !== null || child.signalCode !== null;

describe('metrics of distributed and threaded runs', () => {
  it('each worker serves its partitions and its share; the shares add up to the report; the coordinator pushes the report\'s totals', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const workers = [worker(prefix, 'w1'), worker(prefix, 'w2')];
    const urls = await Promise.all(workers.map((w) => metricsUrlOf(() => w.output.stderr, gone(w))));
    // Before any partition: the worker's own metrics are there, at zero.
    const idle = await scrape(urls[0]!);
    expect(valueOf(idle.samples, 'sluice_worker_busy')).toBe(0);
    for (const w of workers) await waitFor(() => w.output.stderr.includes('waiting for partitions'), gone(w));

    gateway.requests.length = 0;
    const report = join(dir, 'report.json');
    const coordinator = start(['run', 'job.yaml', '--workers', REDIS_URL, '--prefix', prefix, '--partitions', '4', '--progress', 'none', '--report', report, '--metrics-push', gateway.url], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY } });
    children.push(coordinator);
    const result = await finished(coordinator, 90_000);
    const info = `${result.stderr}\n${workers.map((w) => w.output.stderr).join('\n')}`;
    expect(result.code, info).toBe(0);
    const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
    expect(r.counters.read).toBe(RECORDS);

    const scraped = await Promise.all(urls.map(async (url) => (await scrape(url)).samples));
    const job = { job: 'dist-metrics' };
    let partitions = 0;
    for (const [i, samples] of scraped.entries()) {
      // A worker's partitions are the report's entries naming it.
      const own = r.partitions.filter((p) => p.worker === `w${i + 1}`).length;
      // On a loaded machine a worker can miss its lock's renewal: that attempt stops (interrupted)
      // and another worker finishes the partition; the worker says so on stderr.
      const lost = workers[i]!.output.stderr.match(/stopped: it lost its lock/g)?.length ?? 0;
      expect(sumOf(samples, 'sluice_worker_partitions_total'), info).toBe(own + lost);
      expect(valueOf(samples, 'sluice_worker_partitions_total', { outcome: 'done' }) ?? 0).toBe(own);
      expect(valueOf(samples, 'sluice_worker_partitions_total', { outcome: 'interrupted' }) ?? 0).toBe(lost);
      expect(valueOf(samples, 'sluice_worker_busy')).toBe(0);
      partitions += own;
      if (own > 0) expect(valueOf(samples, 'sluice_batch_duration_seconds_count', { ...job, step: '*' })).toBeGreaterThanOrEqual(own);
    }
    expect(partitions).toBe(4);
    const sum = (name: string, labels: Record<string, string>) => scraped.reduce((total, samples) => total + sumOf(samples, name, labels), 0);
    expect(sum('sluice_records_read_total', job)).toBe(r.counters.read);
    expect(sum('sluice_records_written_total', { ...job, sink: 'sink' })).toBe(r.counters.written);
    expect(sum('sluice_records_filtered_total', { ...job, step: 'thirds' })).toBe(r.counters.filtered);

    const puts = gateway.requests.filter((q) => q.method === 'PUT');
    expect(puts).toHaveLength(1);
    const pushed = parseMetrics(puts[0]!.body);
    expect(valueOf(pushed, 'sluice_records_read_total', job)).toBe(r.counters.read);
    expect(valueOf(pushed, 'sluice_records_written_total', { ...job, sink: 'sink' })).toBe(r.steps.find((s) => s.id === 'sink')!.out);
    expect(valueOf(pushed, 'sluice_records_filtered_total', { ...job, step: 'thirds' })).toBe(r.counters.filtered);
    expect(valueOf(pushed, 'sluice_run_status', { ...job, status: 'done' })).toBe(1);
  });

  it('--threads: the pushed totals of the combined run equal its report; the batch histogram counts every batch of every thread', async () => {
    gateway.requests.length = 0;
    const report = join(dir, 'report-threads.json');
    const child = start(['run', 'job.yaml', '--threads', '2', '--fresh', '--progress', 'none', '--report', report, '--metrics-push', gateway.url, '--metrics', '127.0.0.1:0'], { cwd: dir });
    children.push(child);
    const result = await finished(child, 90_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
    const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
    expect(r.counters.read).toBe(RECORDS);
    const puts = gateway.requests.filter((q) => q.method === 'PUT');
    expect(puts).toHaveLength(1);
    const pushed = parseMetrics(puts[0]!.body);
    const job = { job: 'dist-metrics' };
    expect(valueOf(pushed, 'sluice_records_read_total', job)).toBe(r.counters.read);
    expect(valueOf(pushed, 'sluice_records_written_total', { ...job, sink: 'sink' })).toBe(r.counters.written);
    expect(valueOf(pushed, 'sluice_records_filtered_total', { ...job, step: 'thirds' })).toBe(r.counters.filtered);
    expect(valueOf(pushed, 'sluice_run_status', { ...job, status: 'done' })).toBe(1);
    // One partition per file: each reads its 600 records in batches of 100, and every batch has
    // records left for the sink.
    expect(r.partitions.map((p) => p.records)).toEqual([PER_FILE, PER_FILE, PER_FILE, PER_FILE]);
    const batches = r.partitions.reduce((n, p) => n + Math.ceil(p.records / 100), 0);
    expect(batches).toBe(24);
    for (const step of ['*', 'thirds', 'sink']) {
      expect(valueOf(pushed, 'sluice_batch_duration_seconds_count', { ...job, step }), step).toBe(batches);
      expect(valueOf(pushed, 'sluice_batch_duration_seconds_bucket', { ...job, step, le: '+Inf' }), step).toBe(batches);
    }
    expect(valueOf(pushed, 'sluice_batch_duration_seconds_sum', { ...job, step: '*' })).toBeGreaterThan(0);
  });
});

/** Polls `ready` (a condition on output already collected), failing when the process is gone. */
async function waitFor(ready: () => boolean, ended: () => boolean): Promise<void> {
  while (!ready()) {
    if (ended()) throw new Error('the process ended');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
