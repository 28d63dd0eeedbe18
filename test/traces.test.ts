// `sluice run` with the standard OTEL_* variables against an OTLP/HTTP stand-in collector: the
// spans arrive before the process exits, as OTLP JSON at /v1/traces, with the run's counts.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { StandIn } from './support/prometheus.js';

let collector: StandIn;
beforeEach(async () => {
  collector = await StandIn.start();
});
afterEach(async () => {
  await collector.close();
});

interface OtlpSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

function spansOf(): { spans: OtlpSpan[]; service: string | undefined } {
  const spans: OtlpSpan[] = [];
  let service: string | undefined;
  for (const request of collector.requests) {
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/traces');
    const body = JSON.parse(request.body) as { resourceSpans: Array<{ resource: OtlpSpan; scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
    for (const rs of body.resourceSpans) {
      service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
      for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    }
  }
  return { spans, service };
}

const attr = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : undefined);
};

describe('traces over OTLP/HTTP', () => {
  it('OTEL_EXPORTER_OTLP_ENDPOINT set: the run, batch and sink-write spans reach the collector before exit', async () => {
    const dir = tempDir('sluice-otlp-');
    writeFileSync(join(dir, 'in.jsonl'), Array.from({ length: 30 }, (_, id) => JSON.stringify({ id })).join('\n') + '\n');
    writeFileSync(join(dir, 'job.yaml'), `version: 1\nname: otlp\nbatch: { size: 10 }\nsource: { use: file, with: { path: in.jsonl } }\nsink: { use: file, with: { path: out.jsonl } }\n`);
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'etl-nightly' } });
    expect(result.code, result.stderr).toBe(0);
    const { spans, service } = spansOf();
    expect(service).toBe('etl-nightly');
    const run = spans.find((s) => s.name === 'sluice.run')!;
    expect(attr(run, 'sluice.job')).toBe('otlp');
    expect(attr(run, 'sluice.records.written')).toBe(30);
    const batches = spans.filter((s) => s.name === 'sluice.batch');
    expect(batches).toHaveLength(3);
    for (const b of batches) expect(b.parentSpanId).toBe(run.spanId);
    const writes = spans.filter((s) => s.name === 'sluice.sink.write');
    expect(writes.map((w) => batches.some((b) => b.spanId === w.parentSpanId))).toEqual([true, true, true]);
  });

  it('without OTEL_* variables (or --metrics) neither OpenTelemetry nor prom-client is even loaded', async () => {
    const dir = tempDir('sluice-lazy-');
    const log = join(dir, 'loaded.txt');
    writeFileSync(log, '');
    // A module hook that notes every module resolved whose URL names either library.
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n  const found = await next(specifier, context);\n  if (/@opentelemetry|prom-client/.test(found.url)) appendFileSync(${JSON.stringify(log)}, found.url + '\\n');\n  return found;\n}\n`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
    const env = { NODE_OPTIONS: `--import=${join(dir, 'register.mjs')}` };
    const plain = await sluice(['run', 'jobs/hello.yaml', '--dry-run', '--progress', 'none'], { env });
    expect(plain.code, plain.stderr).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('');
    const traced = await sluice(['run', 'jobs/hello.yaml', '--dry-run', '--progress', 'none'], { env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } });
    expect(traced.code, traced.stderr).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/@opentelemetry\/sdk-trace-base/);
    expect(collector.requests.length).toBeGreaterThan(0);
  });
});
