// `sluice run --metrics / --metrics-push` through the real CLI: the /metrics endpoint scraped over
// HTTP at known points of a run (its sink holds each write until the test lets it go), the values
// growing and, at the end, pushed to a Pushgateway stand-in equal to the run's report — whether the
// run finished, failed or was interrupted. A secret from ${env:…} in the job's name and the sink's
// config never reaches a label, a scrape or a push.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { finished, sluice, start, tempDir } from './support/cli.js';
import { followEvents } from './support/events.js';
import { HeldSink, metricsUrlOf, parseMetrics, scrape, StandIn, sumOf, valueOf, type Sample } from './support/prometheus.js';

const SECRET = 'hunter2-metrics-secret';
const RECORDS = 60;
const BATCH = 10;
const JOB = 'nightly-***';

let sink: StandIn;
let gateway: StandIn;
beforeEach(async () => {
  sink = await StandIn.start();
  gateway = await StandIn.start();
});
afterEach(async () => {
  await sink.close();
  await gateway.close();
});

/** 60 records; ids ≡ 0 (mod 5) are filtered, ids ≡ 3 (mod 7) fail validation (dead letters). */
function project(onError = 'deadLetter'): string {
  const dir = tempDir('sluice-metrics-');
  const lines = Array.from({ length: RECORDS }, (_, id) => JSON.stringify({ id, bad: id % 7 === 3 }));
  writeFileSync(join(dir, 'in.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: nightly-\${env:METRICS_SECRET}
batch: { size: ${BATCH}, inFlight: 1 }
source: { use: file, with: { path: in.jsonl } }
steps:
  - id: keep
    use: filter
    with: { where: record.id % 5 != 0 }
  - id: check
    use: validate
    with: { schema: { type: object, properties: { bad: { const: false } } } }
    onError: deadLetter
sinks:
  - id: api
    use: http
    with:
      url: ${sink.url}/sink
      query: { api_key: "\${env:METRICS_SECRET}" }
      batch: true
    onError: ${onError}
deadLetter: { use: file, with: { path: out/rejects.jsonl } }
`,
  );
  return join(dir, 'job.yaml');
}

const expected = (upTo: number) => {
  const ids = Array.from({ length: upTo }, (_, id) => id);
  const kept = ids.filter((id) => id % 5 !== 0);
  return { filtered: ids.length - kept.length, dead: kept.filter((id) => id % 7 === 3).length, written: kept.filter((id) => id % 7 !== 3).length };
};

function run(job: string, extra: string[] = []) {
  const dir = join(job, '..');
  const report = join(dir, 'report.json');
  const child = start(['run', job, '--progress', 'none', '--metrics', '127.0.0.1:0', '--metrics-push', gateway.url, '--report', report, ...extra], {
    cwd: dir,
    env: { METRICS_SECRET: SECRET },
  });
  const exited = finished(child, 60_000);
  const gone = () => (child.exitCode !== null || child.signalCode !== null ? `sluice exited\n${child.output.stderr}` : undefined);
  return { child, exited, gone, report: () => JSON.parse(readFileSync(report, 'utf8')) as Report };
}

interface Report {
  status: string;
  counters: { read: number; written: number; filtered: number; deadLettered: number; skipped: number; retries: number };
  steps: Array<{ id: string; out: number; filtered: number; failed: number; retries: number }>;
}

/** What the Pushgateway stand-in was sent: one PUT of the job's group. */
function pushed(): { path: string; samples: Sample[]; text: string } {
  const puts = gateway.requests.filter((r) => r.method === 'PUT');
  expect(puts).toHaveLength(1);
  return { path: puts[0]!.path, samples: parseMetrics(puts[0]!.body), text: `${puts[0]!.path}\n${JSON.stringify(puts[0]!.headers)}\n${puts[0]!.body}` };
}

/** The pushed totals are the report's, label by label. */
function expectReportTotals(samples: Sample[], report: Report): void {
  const job = { job: JOB };
  expect(valueOf(samples, 'sluice_records_read_total', job)).toBe(report.counters.read);
  const step = (id: string) => report.steps.find((s) => s.id === id)!;
  expect(valueOf(samples, 'sluice_records_written_total', { ...job, sink: 'api' })).toBe(step('api').out);
  expect(valueOf(samples, 'sluice_records_filtered_total', { ...job, step: 'keep' })).toBe(step('keep').filtered);
  expect(sumOf(samples, 'sluice_records_filtered_total', job)).toBe(report.counters.filtered);
  expect(sumOf(samples, 'sluice_records_dead_lettered_total', job)).toBe(report.counters.deadLettered);
  expect(sumOf(samples, 'sluice_records_skipped_total', job)).toBe(report.counters.skipped);
  expect(sumOf(samples, 'sluice_retries_total', job)).toBe(report.counters.retries);
  expect(valueOf(samples, 'sluice_run_status', { ...job, status: report.status })).toBe(1);
  expect(sumOf(samples, 'sluice_run_status', job)).toBe(1);
}

describe('sluice run --metrics', () => {
  it('scraped mid-run the counts grow with the run; pushed at the end they equal the report; the secret is nowhere', async () => {
    const held = new HeldSink(sink);
    const r = run(project());
    const url = await metricsUrlOf(() => r.child.output.stderr, () => r.gone() !== undefined);

    // Batch 0's write is held: one batch read and through the transforms, nothing written yet.
    await sink.received(1, r.gone);
    const first = await scrape(url);
    expect(valueOf(first.samples, 'sluice_records_read_total', { job: JOB })).toBe(BATCH);
    expect(valueOf(first.samples, 'sluice_records_filtered_total', { job: JOB, step: 'keep' })).toBe(expected(BATCH).filtered);
    expect(valueOf(first.samples, 'sluice_records_written_total', { job: JOB, sink: 'api' })).toBe(0);
    expect(valueOf(first.samples, 'sluice_batches_in_flight', { job: JOB })).toBe(1);
    expect(valueOf(first.samples, 'sluice_run_status', { job: JOB, status: 'running' })).toBe(1);
    expect(valueOf(first.samples, 'sluice_run_info', { job: JOB })).toBe(1);
    // Node's process metrics are served too.
    expect(valueOf(first.samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    // Batch 0 written, batch 1's write held (one batch in flight at a time).
    held.releaseOne();
    await sink.received(2, r.gone);
    const second = await scrape(url);
    expect(valueOf(second.samples, 'sluice_records_read_total', { job: JOB })).toBe(2 * BATCH);
    expect(valueOf(second.samples, 'sluice_records_written_total', { job: JOB, sink: 'api' })).toBe(expected(BATCH).written);
    expect(valueOf(second.samples, 'sluice_records_dead_lettered_total', { job: JOB, step: 'check' })).toBe(expected(2 * BATCH).dead);
    expect(valueOf(second.samples, 'sluice_batch_duration_seconds_count', { job: JOB, step: '*' })).toBe(1);

    held.releaseAll();
    const exit = await r.exited;
    expect(exit.code, exit.stderr).toBe(0);
    const report = r.report();
    expect(report.counters.read).toBe(RECORDS);
    expect(report.counters.written).toBe(expected(RECORDS).written);
    const push = pushed();
    expectReportTotals(push.samples, report);
    expect(push.path).toBe(`/metrics/job@base64/${Buffer.from(JOB).toString('base64url')}`);
    expect(valueOf(push.samples, 'sluice_batch_duration_seconds_count', { job: JOB, step: '*' })).toBe(RECORDS / BATCH);
    expect(valueOf(push.samples, 'sluice_batch_duration_seconds_count', { job: JOB, step: 'api' })).toBe(RECORDS / BATCH);
    expect(valueOf(push.samples, 'sluice_checkpoint_age_seconds', { job: JOB })).toBeGreaterThanOrEqual(0);
    expect(valueOf(push.samples, 'sluice_batches_in_flight', { job: JOB })).toBe(0);
    // Only the run's metrics are pushed: a finished process's CPU time is no gauge of anything.
    expect(push.samples.some((s) => s.name.startsWith('process_'))).toBe(false);
    // The secret reached the sink (so it was in play) but no metric, label, push path or header.
    expect(sink.requests[0]!.path).toContain(SECRET);
    for (const text of [first.text, second.text, push.text, exit.stderr, exit.stdout]) expect(text).not.toContain(SECRET);
  });

  it('interrupted (SIGINT): the final values are pushed with status interrupted and equal the report', async () => {
    const held = new HeldSink(sink);
    const r = run(project(), ['--progress', 'json']);
    const events = followEvents(r.child);
    await sink.received(1, r.gone);
    held.releaseOne();
    await sink.received(2, r.gone);
    // Batch 1's write is held while the run takes the signal: it stops reading, drains, checkpoints.
    r.child.kill('SIGINT');
    expect(await events.next((e) => e.type === 'stopping'), r.child.output.stderr).toBeDefined();
    held.releaseAll();
    const exit = await r.exited;
    expect(exit.code, exit.stderr).toBe(130);
    const report = r.report();
    expect(report.status).toBe('interrupted');
    expect(report.counters.read).toBe(2 * BATCH);
    expectReportTotals(pushed().samples, report);
  });

  it('failed (the sink refuses with onError: fail): pushed with status failed, equal to the report', async () => {
    sink.answer = (_, res) => void res.writeHead(400).end('no');
    const r = run(project('fail'));
    const exit = await r.exited;
    expect(exit.code, exit.stderr).toBe(1);
    const report = r.report();
    expect(report.status).toBe('failed');
    expectReportTotals(pushed().samples, report);
  });

  it('a Pushgateway that cannot be reached is one line on stderr; the exit code stays the run\'s', async () => {
    await gateway.close();
    sink.answer = (_, res) => void res.end('{}');
    const r = run(project());
    const exit = await r.exited;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toMatch(/--metrics-push: could not reach the Pushgateway at http:\/\/127\.0\.0\.1:\d+/);
    gateway = await StandIn.start();
  });

  it('a run that could not begin (its Redis unreachable) is pushed as failed, counting nothing', async () => {
    const job = project();
    const result = await sluice(['run', job, '--workers', 'redis://127.0.0.1:1', '--progress', 'none', '--metrics-push', gateway.url], {
      cwd: join(job, '..'),
      env: { METRICS_SECRET: SECRET, SLUICE_QUEUE_KEY: 'metrics-test-queue-key-0123456789' },
    });
    expect(result.code, result.stderr).toBe(1);
    const push = pushed();
    expect(valueOf(push.samples, 'sluice_run_status', { job: JOB, status: 'failed' })).toBe(1);
    expect(valueOf(push.samples, 'sluice_records_read_total', { job: JOB })).toBe(0);
    expect(push.text).not.toContain(SECRET);
  });

  it.each([
    [['--metrics', 'nonsense'], /--metrics must be HOST:PORT, like 127\.0\.0\.1:9464/],
    [['--metrics', '127.0.0.1:70000'], /--metrics must be HOST:PORT/],
    [['--metrics-push', 'ftp://gateway:9091'], /--metrics-push must be an http:\/\/ or https:\/\/ URL/],
    [['--metrics-push', `http://user:${SECRET}@`], /--metrics-push must be a Pushgateway URL/],
  ])('%j is a usage error (exit 2) saying what is expected', async (flags, message) => {
    const result = await sluice(['run', 'jobs/hello.yaml', '--dry-run', ...flags]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain(SECRET);
  });
});
