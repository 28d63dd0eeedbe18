// An enormous response is refused as it streams in, not read whole: a real local server sends
// bodies of several MiB to steps capped at 1 MB.
import { checkConfig, collectSource, RecordError, runTransform } from '@sluice/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestServer } from '../../../../test/support/http-server.js';
import { httpSource } from './source.js';
import { httpTransform } from './transform.js';

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const MiB = 1024 * 1024;

describe('maxResponseSize', () => {
  it.each([
    ['streamed without a length', '', /the response body is over maxResponseSize \(1 MB\)/],
    ['with a Content-Length', '&declare=1', /the response \(8 MB, says its Content-Length\) is over maxResponseSize \(1 MB\)/],
  ])('a source page %s over the cap is a page error (the read goes on); the rest of the body is never read', async (_name, extra, message) => {
    const config = { url: `${server.url}/big?mb=8${extra}`, items: 'data.items', pagination: 'page', maxResponseSize: '1MB' };
    const pages = await collectSource(httpSource, config);
    const errors = pages.flatMap((p) => p.errors ?? []);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error.message).toMatch(message);
    expect(errors[0]!.error.message).toMatch(/raise maxResponseSize/);
    // The server could only push what fits in socket buffers past the cap, not the 8 MiB.
    expect(server.bigSent).toBeLessThan(4 * MiB);
    // Page style steps over the page it could not read.
    expect(server.seen('/big').map((r) => r.query.get('page'))).toEqual(['1', '2']);
  });

  it('a response under the cap is read as usual, and the default cap takes a few MiB', async () => {
    const pages = await collectSource(httpSource, { url: `${server.url}/big?mb=3`, items: 'data.items' });
    expect(pages.flatMap((p) => p.records).length).toBeGreaterThan(20_000);
  });

  it('a transform response over the cap fails the record, with the step going on', async () => {
    const config = { url: `${server.url}/big?mb={{ record.mb }}`, into: 'big', pick: 'data.items.0.id', maxResponseSize: 512 * 1024 };
    const out = await runTransform(httpTransform, config, [{ mb: 0.1 }]);
    expect(out).toEqual([{ mb: 0.1, big: 0 }]);
    await expect(runTransform(httpTransform, config, [{ mb: 4 }])).rejects.toThrowError(RecordError);
    await expect(runTransform(httpTransform, config, [{ mb: 4 }])).rejects.toThrowError(/over maxResponseSize \(512 KB\)/);
  });

  it.each([['64MB'], ['512kb'], [1048576], ['1.5GB']])('%s is a size', (size) => {
    expect(checkConfig(httpSource, { url: 'https://a.example/x', maxResponseSize: size })).toEqual([]);
  });

  it.each([['64 megs'], [0], ['-1MB']])('%s is not a size', (size) => {
    expect(checkConfig(httpSource, { url: 'https://a.example/x', maxResponseSize: size })).toEqual([expect.objectContaining({ path: 'maxResponseSize' })]);
  });
});
