import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { formatDiagnostic, JobRun, loadJobText, Redactor, type JobPlan } from '@sluice/core/internal';
import { afterAll, describe, expect, it } from 'vitest';
import { builtInRegistry } from '../builtins.js';
import { openTracing, tracesWanted } from './setup.js';

// Spans of real runs (file source, transforms, file sink) caught by an in-process exporter.
const SECRET = 'trace-secret-0451';
const dir = mkdtempSync(join(tmpdir(), 'sluice-traces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'in.jsonl'), Array.from({ length: 25 }, (_, id) => JSON.stringify({ id })).join('\n') + '\n');

async function planOf(steps: string): Promise<JobPlan> {
  const text = `version: 1
name: traced-\${env:TRACE_SECRET}
batch: { size: 10 }
checkpoint: { store: none }
source: { use: file, with: { path: in.jsonl } }
steps:
${steps}
sink: { use: file, with: { path: out/out.jsonl } }
deadLetter: { use: file, with: { path: out/dead.jsonl } }
`;
  const { plan, diagnostics } = await loadJobText(text, { registry: builtInRegistry(), dir, env: { TRACE_SECRET: SECRET } });
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return plan;
}

async function traced(plan: JobPlan): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const spans = (await openTracing({}, () => undefined, exporter))!;
  const run = new JobRun(plan, { fresh: true });
  const { redact } = new Redactor(plan.secrets);
  spans.follow({ plan, bus: run.bus, progress: () => run.progress(), redact });
  await run.run();
  const finished = exporter.getFinishedSpans();
  await spans.shutdown();
  return finished;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('traces', () => {
  it('a run span, a batch span per batch under it, and under each batch a span per transform and per sink write', async () => {
    const spans = await traced(await planOf('  - { id: odd, use: filter, with: { where: record.id % 2 == 1 } }'));
    const [run, ...others] = [spans.find((s) => s.name === 'sluice.run')!, ...spans.filter((s) => s.name !== 'sluice.run')];
    expect(run.attributes).toMatchObject({ 'sluice.job': 'traced-***', 'sluice.status': 'done', 'sluice.records.read': 25, 'sluice.records.written': 12, 'sluice.records.filtered': 13 });
    expect(parentOf(run)).toBeUndefined();
    const batches = others.filter((s) => s.name === 'sluice.batch').sort((a, b) => Number(a.attributes['sluice.batch']) - Number(b.attributes['sluice.batch']));
    expect(batches.map((b) => [b.attributes['sluice.batch'], b.attributes['sluice.records']])).toEqual([[0, 5], [1, 5], [2, 2]]);
    for (const batch of batches) {
      expect(parentOf(batch)).toBe(run.spanContext().spanId);
      expect(batch.spanContext().traceId).toBe(run.spanContext().traceId);
      const children = others.filter((s) => parentOf(s) === batch.spanContext().spanId);
      expect(children.map((c) => [c.name, c.attributes['sluice.step']]).sort()).toEqual([['sluice.sink.write', 'sink'], ['sluice.step', 'odd']]);
      // A child lies within its batch.
      for (const child of children) {
        expect(hr(child.startTime)).toBeGreaterThanOrEqual(hr(batch.startTime));
        expect(hr(child.endTime)).toBeLessThanOrEqual(hr(batch.endTime));
      }
    }
    expect(others).toHaveLength(3 * 3);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(SECRET);
  });

  it('a failed run: its span has status ERROR with the error, secrets redacted, and an exception event', async () => {
    const spans = await traced(await planOf(`  - id: boom
    use: map
    with: { set: { x: "record.id == 12 ? record.nothing.deeper : 1", secret: "'\${env:TRACE_SECRET}'" } }
    onError: fail`));
    const run = spans.find((s) => s.name === 'sluice.run')!;
    expect(run.attributes['sluice.status']).toBe('failed');
    expect(run.status.code).toBe(2);
    expect(run.status.message).toMatch(/step 'boom' failed at/);
    expect(run.events.map((e) => e.name)).toEqual(['exception']);
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.status, s.events]))).not.toContain(SECRET);
  });

  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    [{ OTEL_SERVICE_NAME: 'etl' }, false],
  ])('traces are on only when the OTEL_* variables ask: %j → %s', (env, on) => {
    expect(tracesWanted(env).on).toBe(on);
  });

  it('an exporter sluice does not have is named in a warning', () => {
    expect(tracesWanted({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual({ on: false, warning: expect.stringContaining('ignoring zipkin') });
  });
});

function hr(time: [number, number]): number {
  return time[0] * 1e9 + time[1];
}
