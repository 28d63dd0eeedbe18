// Credentials stay with the origin of `url`: next pages, redirects and per-record URLs on another
// origin, against two real local servers (127.0.0.1 and localhost are different origins).
import { checkConfig, collectSource, runTransform, writeSink } from '@sluice/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestServer } from '../../../../test/support/http-server.js';
import { httpSink } from './sink.js';
import { httpSource } from './source.js';
import { httpTransform } from './transform.js';

let home: TestServer;
let other: TestServer;
/** The other server as another origin of the same machine. */
let otherOrigin: string;

const TOKEN = 'tok-Sup3r-secret';
const KEY = 'key-Also-secret';

beforeAll(async () => {
  home = await TestServer.start({ items: 25, pageSize: 10 });
  other = await TestServer.start({ items: 25, pageSize: 10 });
  otherOrigin = other.url.replace('127.0.0.1', 'localhost');
});
afterAll(async () => {
  await home.close();
  await other.close();
});
beforeEach(() => {
  home.reset();
  other.reset();
});

/** A source config with a bearer token and a secret custom header. */
const sourceConfig = (style: 'cursor' | 'link', extra: Record<string, unknown> = {}) => ({
  url: `${home.url}/data/${style}`,
  items: 'data.items',
  pagination: style,
  ...(style === 'cursor' ? { next: 'meta.next' } : {}),
  pageSize: 10,
  auth: { bearer: TOKEN },
  headers: { 'X-Api-Key': KEY, 'X-Tenant': 'acme' },
  ...extra,
});
const secrets = { secrets: [TOKEN, KEY] };

function credentialsSeenBy(server: TestServer): string[] {
  return server.requests.flatMap((r) => [r.headers.authorization, r.headers['x-api-key']].filter((h): h is string => h !== undefined));
}

describe('http source: a next page on another origin', () => {
  it.each(['cursor', 'link'] as const)('%s: is refused with a message naming the origin and allowOrigins; the other host sees nothing', async (style) => {
    home.nextOrigin = otherOrigin;
    await expect(collectSource(httpSource, sourceConfig(style), secrets)).rejects.toThrow(
      new RegExp(`${otherOrigin.replace(/[.:/]/g, '\\$&')} is not the origin of url \\(${home.url.replace(/[.:/]/g, '\\$&')}\\).*allowOrigins`),
    );
    expect(other.requests).toHaveLength(0);
    expect(credentialsSeenBy(home)).toContain(`Bearer ${TOKEN}`);
  });

  it.each(['cursor', 'link'] as const)('%s: a listed origin is followed without the credentials', async (style) => {
    home.nextOrigin = otherOrigin;
    const pages = await collectSource(httpSource, sourceConfig(style, { allowOrigins: [otherOrigin] }), secrets);
    expect(pages.flatMap((p) => p.records.map((r) => r.id))).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(other.requests.length).toBeGreaterThan(0);
    expect(credentialsSeenBy(other)).toEqual([]);
    // What is not a credential still goes along.
    expect(other.requests.every((r) => r.headers['x-tenant'] === 'acme')).toBe(true);
  });

  it('an origin listed with credentials: true gets them', async () => {
    home.nextOrigin = otherOrigin;
    await collectSource(httpSource, sourceConfig('cursor', { allowOrigins: [{ origin: `${otherOrigin}/`, credentials: true }] }), secrets);
    expect(credentialsSeenBy(other)).toContain(`Bearer ${TOKEN}`);
    expect(credentialsSeenBy(other)).toContain(KEY);
  });

  it('a redirect is not followed: the 302 is the error, and its target sees no request', async () => {
    const url = `${home.url}/redirect?to=${encodeURIComponent(`${otherOrigin}/data/page`)}`;
    await expect(collectSource(httpSource, { url, items: 'data.items', auth: { bearer: TOKEN } }, secrets)).rejects.toThrow(/302 Found/);
    expect(other.requests).toHaveLength(0);
  });
});

describe('http transform and sink: a URL whose host is a template', () => {
  const transformUrl = '{{ record.base }}/enrich/{{ record.id }}';

  it('auth with such a URL and no origin allowed credentials is a config error', () => {
    expect(checkConfig(httpTransform, { url: transformUrl, auth: { bearer: TOKEN } })).toEqual([
      expect.objectContaining({ path: 'auth', message: expect.stringMatching(/host of url is a template/) }),
    ]);
    expect(checkConfig(httpTransform, { url: transformUrl, auth: { bearer: TOKEN }, allowOrigins: [{ origin: home.url, credentials: true }] })).toEqual([]);
    expect(checkConfig(httpSink, { url: transformUrl, allowOrigins: ['https://a.example/path'] })).toEqual([
      expect.objectContaining({ path: 'allowOrigins.0', message: expect.stringMatching(/not just an origin/) }),
    ]);
  });

  it('a record pointing at an unlisted origin fails that record; listed origins get credentials only when allowed', async () => {
    const config = { url: transformUrl, into: 'e', auth: { bearer: TOKEN }, allowOrigins: [{ origin: home.url, credentials: true }] };
    await expect(runTransform(httpTransform, config, [{ id: 1, base: otherOrigin }], secrets)).rejects.toThrow(/is not an origin listed in allowOrigins/);
    expect(other.requests).toHaveLength(0);

    const both = { ...config, allowOrigins: [{ origin: home.url, credentials: true }, otherOrigin] };
    const out = await runTransform(httpTransform, both, [{ id: 1, base: home.url }, { id: 2, base: otherOrigin }], secrets);
    expect(out.map((r) => (r.e as { auth: string }).auth)).toEqual(['yes', 'no']);
    expect(credentialsSeenBy(other)).toEqual([]);
  });

  it('the sink never sends credentials to an origin that is not url\'s', async () => {
    const config = { url: '{{ record.base }}/sink', auth: { username: 'etl', password: TOKEN }, allowOrigins: [{ origin: home.url, credentials: true }, otherOrigin] };
    await writeSink(httpSink, config, [[{ id: 1, base: home.url }, { id: 2, base: otherOrigin }]], secrets);
    expect(home.received).toHaveLength(1);
    expect(other.received).toHaveLength(1);
    expect(credentialsSeenBy(home)).toHaveLength(1);
    expect(credentialsSeenBy(other)).toEqual([]);
  });
});
