// The http plugin against a real local server, without the engine: what each kind sends, reads,
// and throws. The engine-level behaviour (retries, pauses, rate limits, resume) is in http-e2e.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withDefaults, checkConfig, collectSource, createTestContext, PermanentError, RecordError, runTransform, TransientError, writeSink } from '@sluice/core';
import { httpSink, httpSource, httpTransform, idempotencyKey, parseRetryAfter } from '../packages/plugins/http/src/index.js';
import { nextLink } from '../packages/plugins/http/src/link.js';
import { TestServer } from './support/http-server.js';

let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start({ items: 45, pageSize: 10 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  server.items = 45;
  server.pageDelayMs = 0;
});

/** Runs one record through the transform and returns the error it threw. */
async function transformError(config: Record<string, unknown>, record: Record<string, unknown> = { id: 1 }, options = {}): Promise<Error> {
  try {
    await runTransform(httpTransform, config, [record], options);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the transform to throw');
}

describe('http source: pagination', () => {
  const styles: Array<[string, Record<string, unknown>]> = [
    ['page', { pagination: 'page', pageSize: 10 }],
    ['offset', { pagination: 'offset', pageSize: 10 }],
    ['cursor', { pagination: 'cursor', next: 'meta.next', pageSize: 10 }],
    ['link', { pagination: 'link', pageSize: 10 }],
  ];

  it.each(styles)('%s: reads every item once, in order, and stops at the end', async (style, extra) => {
    const pages = await collectSource(httpSource, { url: `${server.url}/data/${style}`, items: 'data.items', ...extra }, { batchSize: 4 });
    const ids = pages.flatMap((p) => p.records.map((r) => r.id));
    expect(ids).toEqual(Array.from({ length: 45 }, (_, i) => i));
    expect(pages.every((p) => p.records.length <= 4)).toBe(true);
    // 5 API pages of 10 (the last with 5); page and offset ask once more and get an empty page.
    const calls = server.seen(`/data/${style}`).length;
    expect(calls).toBe(style === 'page' || style === 'offset' ? 6 : 5);
  });

  it.each(styles)('%s: resuming from a cursor asks for the next page, not the first', async (style, extra) => {
    const config = { url: `${server.url}/data/${style}`, items: 'data.items', ...extra };
    const first = await collectSource(httpSource, config, { batchSize: 10 });
    // The cursor after the second page, and one in the middle of the third (batchSize 4).
    const afterTwo = first[1]!.cursor;
    server.reset();
    const rest = await collectSource(httpSource, config, { batchSize: 10, cursor: afterTwo });
    expect(rest.flatMap((p) => p.records.map((r) => r.id))).toEqual(Array.from({ length: 25 }, (_, i) => i + 20));
    const firstAsked = server.seen(`/data/${style}`)[0]!.query;
    expect(firstAsked.get('page') ?? firstAsked.get('offset') ?? firstAsked.get('cursor')).not.toBeNull();

    const small = await collectSource(httpSource, config, { batchSize: 4 });
    // API pages of 10 in batches of 4: 0-3, 4-7, 8-9, then 10-13 (the second API page, partly read).
    const midPage = small[3]!;
    expect(midPage.records.map((r) => r.id)).toEqual([10, 11, 12, 13]);
    const resumed = await collectSource(httpSource, config, { batchSize: 4, cursor: midPage.cursor });
    expect(resumed.flatMap((p) => p.records.map((r) => r.id))).toEqual(Array.from({ length: 31 }, (_, i) => i + 14));
  });

  it('pagination none reads one response; a body that is the array needs no items path', async () => {
    const pages = await collectSource(httpSource, { url: `${server.url}/data/offset`, query: { limit: 7 }, items: 'data.items' });
    expect(pages.flatMap((p) => p.records)).toHaveLength(7);
  });

  it('estimate() comes from the total field of the first response', async () => {
    const ctx = createTestContext({ kind: 'source' });
    const source = await httpSource.create(withDefaults(httpSource.schema, { url: `${server.url}/data/page`, items: 'data.items', pagination: 'page', total: 'meta.total' }), ctx);
    const estimate = source.estimate!();
    const iterator = source.read({ cursor: undefined, batchSize: 100, signal: ctx.signal })[Symbol.asyncIterator]();
    await iterator.next();
    expect(await estimate).toEqual({ total: 45, unit: 'records' });
    await iterator.return?.();
    await source.close?.();
  });

  it('a malformed page (page style) is a page error that says what arrived; reading goes on', async () => {
    server.inject('/data/page', { kind: 'html' });
    const pages = await collectSource(httpSource, { url: `${server.url}/data/page`, items: 'data.items', pagination: 'page', pageSize: 10 });
    const errors = pages.flatMap((p) => p.errors ?? []);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error.message).toMatch(/expected JSON, got an HTML page "Service Temporarily Unavailable"/);
    expect(errors[0]!.position).toEqual({ page: 1, index: 0 });
    expect(pages.flatMap((p) => p.records.map((r) => r.id))).toEqual(Array.from({ length: 35 }, (_, i) => i + 10));
  });

  it('a missing items path is a page error naming the path; cursor pagination cannot step over it', async () => {
    await expect(
      collectSource(httpSource, { url: `${server.url}/data/cursor`, items: 'data.rows', pagination: 'cursor', next: 'meta.next' }),
    ).rejects.toThrow(/expected an array of records at 'data.rows', got nothing there in application\/json .*cannot step over/);
    server.inject('/data/cursor', { kind: 'malformed' });
    await expect(collectSource(httpSource, { url: `${server.url}/data/cursor`, items: 'data.items', pagination: 'cursor', next: 'meta.next' })).rejects.toThrow(
      /expected JSON, got invalid JSON/,
    );
  });

  it('retries a burst of 503s and a reset, then reads on; a 404 fails with the status and body', async () => {
    server.inject('/data/offset', { kind: 'status', status: 503 }, { kind: 'reset' });
    const pages = await collectSource(
      httpSource,
      { url: `${server.url}/data/offset`, items: 'data.items', pagination: 'offset', pageSize: 20 },
      { timeoutMs: 2000 },
    );
    expect(pages.flatMap((p) => p.records)).toHaveLength(45);
    expect(server.seen('/data/offset').filter((r) => r.fault)).toHaveLength(2);
    await expect(collectSource(httpSource, { url: `${server.url}/nothing`, items: 'data.items' })).rejects.toThrow(
      /GET http:\/\/127\.0\.0\.1:\d+\/nothing: 404 Not Found: application\/json "\{\\"error\\":\\"no route \/nothing\\"\}"/,
    );
  });
});

describe('http transform', () => {
  it('puts the parsed response into a field, with query, headers and auth', async () => {
    const out = await runTransform(
      httpTransform,
      {
        url: `${server.url}/enrich/{{ record.id }}`,
        into: 'enriched',
        query: { tenant: 'acme', who: '{{ record.name }}' },
        headers: { 'X-Trace': 'r-{{ record.id }}' },
        auth: { bearer: 's3cret-token' },
      },
      [{ id: 3, name: 'a b' }],
    );
    expect(out).toEqual([{ id: 3, name: 'a b', enriched: { id: 3, score: 6, tag: 't3', auth: 'yes' } }]);
    const seen = server.seen('/enrich/3')[0]!;
    expect(seen.query.get('who')).toBe('a b');
    expect(seen.headers['x-trace']).toBe('r-3');
    expect(seen.headers.authorization).toBe('Bearer s3cret-token');
  });

  it('replaces the record without into; pick keeps a part; text mode keeps the body; nullOn gives null', async () => {
    expect(await runTransform(httpTransform, { url: `${server.url}/enrich/{{ record.id }}` }, [{ id: 2 }])).toEqual([{ id: 2, score: 4, tag: 't2', auth: 'no' }]);
    expect(await runTransform(httpTransform, { url: `${server.url}/enrich/{{ record.id }}`, pick: 'score', into: 's' }, [{ id: 2 }])).toEqual([{ id: 2, s: 4 }]);
    expect(await runTransform(httpTransform, { url: `${server.url}/text`, parse: 'text', into: 't' }, [{ id: 1 }])).toEqual([{ id: 1, t: 'plain words' }]);
    expect(await runTransform(httpTransform, { url: `${server.url}/enrich/missing`, into: 'e', nullOn: [404] }, [{ id: 1 }])).toEqual([{ id: 1, e: null }]);
  });

  it('sends a JSON body from an expression, or a text body from a template', async () => {
    const out = await runTransform(httpTransform, { url: `${server.url}/echo`, method: 'POST', json: '({ n: record.id, quote: record.q })', into: 'echo' }, [{ id: 5, q: 'say "hi"' }]);
    const echo = out[0]!.echo as { body: string; headers: Record<string, string> };
    expect(JSON.parse(echo.body)).toEqual({ n: 5, quote: 'say "hi"' });
    expect(echo.headers['content-type']).toBe('application/json');
    const text = await runTransform(httpTransform, { url: `${server.url}/echo`, method: 'PUT', body: 'id={{ record.id }}', into: 'echo' }, [{ id: 6 }]);
    expect((text[0]!.echo as { body: string; method: string }).body).toBe('id=6');
    expect((text[0]!.echo as { method: string }).method).toBe('PUT');
  });

  // [fault, the engine error class, a fragment of its message]
  const faults: Array<[string, Parameters<TestServer['inject']>[1], new (...args: never[]) => Error, RegExp]> = [
    ['429 with Retry-After: 1', { kind: 'status', status: 429, retryAfter: '1' }, TransientError, /429 Too Many Requests/],
    ['503', { kind: 'status', status: 503 }, TransientError, /503 Service Unavailable/],
    ['502 HTML error page', { kind: 'html', status: 502 }, TransientError, /502 Bad Gateway: an HTML page "Service Temporarily Unavailable"/],
    ['connection reset mid-body', { kind: 'reset' }, TransientError, /network error \((UND_ERR_SOCKET|ECONNRESET|UND_ERR_RES_CONTENT_LENGTH_MISMATCH)/],
    ['slow beyond the timeout', { kind: 'slow', delayMs: 1500 }, TransientError, /timed out/],
    ['malformed JSON', { kind: 'malformed' }, RecordError, /expected JSON, got invalid JSON \(.*\): "\{\\"id\\": 1, \\"name\\": \\"trunc"/],
    ['HTML page with 200', { kind: 'html' }, RecordError, /expected JSON, got an HTML page "Service Temporarily Unavailable"/],
    ['400', { kind: 'status', status: 400, body: '{"error":"bad id"}' }, RecordError, /400 Bad Request: application\/json "\{\\"error\\":\\"bad id\\"\}"/],
  ];

  it.each(faults)('%s → %o', async (_name, fault, kind, message) => {
    server.inject('/enrich/', fault);
    const error = await transformError({ url: `${server.url}/enrich/{{ record.id }}`, into: 'e', timeout: '300ms' });
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`${server.url}/enrich/1`);
  });

  it('Retry-After (seconds or an HTTP date) is carried to the engine, capped by maxDelay', async () => {
    server.inject('/enrich/', { kind: 'status', status: 429, retryAfter: '1' });
    expect((await transformError({ url: `${server.url}/enrich/1`, into: 'e' }) as TransientError).retryAfterMs).toBe(1000);
    server.inject('/enrich/', { kind: 'status', status: 503, retryAfter: '3600' });
    expect((await transformError({ url: `${server.url}/enrich/1`, into: 'e' }) as TransientError).retryAfterMs).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:58 GMT'))).toBe(2000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:30:00 GMT'))).toBe(0);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });

  it('a 404 is permanent and says the status and a trimmed body; the secret is not in it', async () => {
    const error = await transformError({ url: `${server.url}/enrich/missing`, into: 'e', auth: { bearer: 'tok-XYZ' } });
    expect(error).toBeInstanceOf(RecordError);
    expect(error.message).toMatch(/404 Not Found: application\/json "\{\\"error\\":\\"no such record\\",\\"id\\":\\"missing\\"\}"/);
    expect((error as RecordError).details).toMatchObject({ status: 404 });
    expect(error.message).not.toContain('tok-XYZ');
  });

  it('retry.on narrows what is retried: without 5xx a 503 is permanent; connection refused is network', async () => {
    server.inject('/enrich/', { kind: 'status', status: 503 });
    expect(await transformError({ url: `${server.url}/enrich/1`, into: 'e' }, {}, { retryOn: [429, 'timeout'] })).toBeInstanceOf(RecordError);
    server.inject('/enrich/', { kind: 'status', status: 503 });
    expect(await transformError({ url: `${server.url}/enrich/1`, into: 'e' }, {}, { retryOn: [503] })).toBeInstanceOf(TransientError);
    const refused = await transformError({ url: 'http://127.0.0.1:1/x', into: 'e' });
    expect(refused).toBeInstanceOf(TransientError);
    expect(refused.message).toMatch(/network error \(ECONNREFUSED/);
    expect(await transformError({ url: 'http://127.0.0.1:1/x', into: 'e' }, {}, { retryOn: ['5xx'] })).toBeInstanceOf(PermanentError);
  });

  it('a response that cannot replace the record is a record error', async () => {
    const error = await transformError({ url: `${server.url}/text`, parse: 'text' });
    expect(error).toBeInstanceOf(RecordError);
    expect(error.message).toMatch(/the response \(text "plain words"\) cannot replace the record; set into/);
  });
});

describe('http sink', () => {
  it('POSTs each record with an Idempotency-Key derived from its key', async () => {
    const records = [{ id: 1, email: 'a@x' }, { id: 2, email: 'b@x' }, { id: 3, email: 'c@x' }];
    await writeSink(httpSink, { url: `${server.url}/sink`, key: 'record.id' }, [records], { concurrency: 2, jobName: 'push' });
    expect(server.received).toHaveLength(3);
    expect(server.received).toEqual(expect.arrayContaining(records));
    const keys = server.seen('/sink').map((r) => r.headers['idempotency-key']);
    expect(new Set(keys)).toEqual(new Set(records.map((r) => idempotencyKey('push', 'step', r.id))));
  });

  it('batch: true sends one JSON array or NDJSON body per batch', async () => {
    const records = Array.from({ length: 5 }, (_, id) => ({ id }));
    await writeSink(httpSink, { url: `${server.url}/sink`, batch: true }, [records.slice(0, 3), records.slice(3)]);
    expect(server.seen('/sink')).toHaveLength(2);
    expect(server.seen('/sink')[0]!.headers['content-type']).toBe('application/json');
    await writeSink(httpSink, { url: `${server.url}/sink/nd`, batch: true, format: 'ndjson', json: '({ n: record.id })' }, [records]);
    const nd = server.seen('/sink/nd')[0]!;
    expect(nd.headers['content-type']).toBe('application/x-ndjson');
    expect(nd.body).toBe('{"n":0}\n{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n');
    expect(server.received).toHaveLength(10);
  });

  it('per record: a refused record is rejected with its status; a transient failure throws, and the retry sends only what is left', async () => {
    const ctx = createTestContext({ kind: 'sink', concurrency: 4 });
    const sink = await httpSink.create(withDefaults(httpSink.schema, { url: `${server.url}/sink`, key: 'record.id' }), ctx);
    const records = [{ id: 1 }, { id: 2, invalid: true }, { id: 3 }, { id: 4 }];
    server.inject('/sink', { kind: 'status', status: 503, retryAfter: '0' });
    const info = (attempt: number) => ({ seq: 0, positions: records.map((_, index) => ({ index })), attempt, signal: ctx.signal });
    await expect(sink.write(records, info(1))).rejects.toBeInstanceOf(TransientError);
    expect(server.seen('/sink')).toHaveLength(4);
    const result = await sink.write(records, info(2));
    // Only the record the 503 hit is sent again; the refused one is remembered.
    expect(server.seen('/sink')).toHaveLength(5);
    expect(result).toEqual({ rejected: [{ index: 1, error: expect.any(RecordError) }] });
    expect((result as { rejected: ReadonlyArray<{ error: Error }> }).rejected[0]!.error.message).toMatch(/422 Unprocessable Entity: .*invalid record: email is required/);
    expect(server.received).toHaveLength(3);
    await sink.close?.();
  });

  it('sends nothing in a dry run', async () => {
    await writeSink(httpSink, { url: `${server.url}/sink` }, [[{ id: 1 }]], { dryRun: true });
    expect(server.seen('/sink')).toHaveLength(0);
  });
});

describe('options are checked like sluice validate does', () => {
  const cases: Array<[string, typeof httpSource | typeof httpTransform | typeof httpSink, Record<string, unknown>, string, RegExp]> = [
    ['cursor without next', httpSource, { url: 'https://a.example/x', pagination: 'cursor' }, 'next', /needs next/],
    ['next without cursor', httpSource, { url: 'https://a.example/x', pagination: 'page', next: 'a' }, 'next', /is for pagination: cursor/],
    ['unknown pagination', httpSource, { url: 'https://a.example/x', pagination: 'pages' }, 'pagination', /must be one of none, page, offset, cursor, link/],
    ['relative url', httpSource, { url: 'a.example/x' }, 'url', /must start with http/],
    ['bad items path', httpSource, { url: 'https://a.example/x', items: 'data..items' }, 'items', /empty segment/],
    ['bad template', httpTransform, { url: 'https://a.example/{{ record.id' }, 'url', /invalid template/],
    ['GET with a body', httpTransform, { url: 'https://a.example/x', json: 'record' }, 'json', /GET request has no body/],
    ['nullOn without into', httpTransform, { url: 'https://a.example/x', nullOn: [404] }, 'nullOn', /needs into/],
    ['auth twice', httpTransform, { url: 'https://a.example/x', auth: { bearer: 't' }, headers: { Authorization: 'x' } }, 'headers', /both auth and an Authorization header/],
    ['auth of neither form', httpTransform, { url: 'https://a.example/x', auth: { token: 't' } }, 'auth', /./],
    ['batch with a record URL', httpSink, { url: 'https://a.example/{{ record.id }}', batch: true }, 'url', /cannot depend on a record/],
    ['format without batch', httpSink, { url: 'https://a.example/x', format: 'ndjson' }, 'format', /is for batch: true/],
    ['bad key expression', httpSink, { url: 'https://a.example/x', key: 'record.id +' }, 'key', /invalid expression/],
  ];

  it.each(cases)('%s', (_name, plugin, config, path, message) => {
    const problems = checkConfig(plugin as never, config);
    expect(problems.length, JSON.stringify(problems)).toBeGreaterThan(0);
    expect(problems.some((p) => p.path.startsWith(path) && message.test(p.message)), JSON.stringify(problems)).toBe(true);
  });

  it('accepts the documented examples', () => {
    expect(checkConfig(httpSource, { url: 'https://api.example.com/v1/users', items: 'data.items', pagination: 'cursor', next: 'meta.next_cursor', auth: { bearer: 'x' }, total: 'meta.total' })).toEqual([]);
    expect(checkConfig(httpTransform, { url: 'https://geo.internal/v1/{{ record.ip }}', into: 'geo' })).toEqual([]);
    expect(checkConfig(httpSink, { url: 'https://api.example.com/v1/events', batch: true, format: 'ndjson', key: 'record.id' })).toEqual([]);
  });

  it('reads the next link of a Link header', () => {
    const base = new URL('https://api.example.com/v1/items?page=1');
    expect(nextLink('<https://api.example.com/v1/items?page=2>; rel="next", <https://api.example.com/v1/items?page=9>; rel="last"', base)?.href).toBe(
      'https://api.example.com/v1/items?page=2',
    );
    expect(nextLink('</v1/items?page=3>; rel=next', base)?.href).toBe('https://api.example.com/v1/items?page=3');
    expect(nextLink('<https://x/prev>; rel="prev"', base)).toBeUndefined();
    expect(nextLink(undefined, base)).toBeUndefined();
  });
});
