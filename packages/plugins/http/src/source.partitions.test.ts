// The http source split for distributed runs, against the real local test API.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withDefaults, type SourcePage } from '@sluice/core';
import { createTestContext } from '@sluice/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestServer } from '../../../../test/support/http-server.js';
import { httpSource } from './source.js';

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
});

async function partitionsOf(config: Record<string, unknown>, n: number): Promise<unknown[]> {
  const ctx = createTestContext({ kind: 'source' });
  const source = await httpSource.create(withDefaults(httpSource.schema, config), ctx);
  try {
    return JSON.parse(JSON.stringify(await source.partitions!(n)));
  } finally {
    await source.close?.();
  }
}

/** Reads one partition with a fresh instance, as a worker would; the estimate is asked for that partition, as the engine does. */
async function readPartition(config: Record<string, unknown>, partition: unknown, options: { batchSize?: number; cursor?: unknown } = {}) {
  const ctx = createTestContext({ kind: 'source' });
  const source = await httpSource.create(withDefaults(httpSource.schema, config), ctx);
  const estimate = source.estimate?.(partition);
  const pages: SourcePage[] = [];
  try {
    for await (const page of source.read({ cursor: options.cursor, batchSize: options.batchSize ?? 100, signal: ctx.signal, partition })) pages.push(page);
  } finally {
    await source.close?.();
  }
  return { pages, ids: pages.flatMap((p) => p.records.map((r) => r.id as number)), estimate: (await estimate)?.total };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('http source partitions', () => {
  const paged = { url: '', items: 'data.items', pagination: 'page', pageSize: 10, total: 'meta.total' };

  it('page pagination with a total: n = 3 → contiguous page ranges that read every record once', async () => {
    const config = { ...paged, url: `${server.url}/data/page` };
    const parts = await partitionsOf(config, 3);
    expect(parts).toEqual([
      { firstPage: 1, lastPage: 1, itemsPerPage: 10 },
      { firstPage: 2, lastPage: 3, itemsPerPage: 10 },
      { firstPage: 4, itemsPerPage: 10 },
    ]);
    const all: number[] = [];
    const estimates: unknown[] = [];
    const asked: string[][] = [];
    for (const part of parts) {
      server.reset();
      const { ids, estimate, pages } = await readPartition(config, part, { batchSize: 4 });
      all.push(...ids);
      estimates.push(estimate);
      asked.push(server.seen('/data/page').map((r) => r.query.get('page')!));
      expect(pages.flatMap((p) => p.positions ?? []).every((p) => (p.page as number) >= (part as { firstPage: number }).firstPage)).toBe(true);
    }
    expect(all).toEqual(range(0, 45));
    expect(estimates).toEqual([10, 20, 15]);
    // A bounded partition asks for its own pages only; the last one reads on to the empty page.
    expect(asked).toEqual([['1'], ['2', '3'], ['4', '5', '6']]);
  });

  it('offset pagination: ranges of offsets, cut inside a page when they must be', async () => {
    const config = { url: `${server.url}/data/offset`, items: 'data.items', pagination: 'offset', pageSize: 7, total: 'meta.total' };
    const parts = await partitionsOf(config, 3);
    expect(parts).toEqual([{ fromOffset: 0, toOffset: 14 }, { fromOffset: 14, toOffset: 28 }, { fromOffset: 28 }]);
    const all: number[] = [];
    for (const part of parts) {
      const { ids, estimate } = await readPartition(config, part, { batchSize: 5 });
      expect(estimate).toBe(ids.length);
      all.push(...ids);
    }
    expect(all).toEqual(range(0, 45));
    const { ids, pages } = await readPartition(config, { fromOffset: 5, toOffset: 23 }, { batchSize: 5 });
    expect(ids).toEqual(range(5, 23));
    expect(pages.flatMap((p) => p.positions ?? []).map((p) => p.offset)).toEqual(range(5, 23));
  });

  it('resumes inside a partition from every cursor: exactly the rest of that partition', async () => {
    const config = { ...paged, url: `${server.url}/data/page` };
    const parts = await partitionsOf(config, 2);
    expect(parts).toEqual([{ firstPage: 1, lastPage: 2, itemsPerPage: 10 }, { firstPage: 3, itemsPerPage: 10 }]);
    for (const part of parts) {
      const { pages, ids } = await readPartition(config, part, { batchSize: 4 });
      for (const [i, page] of pages.entries()) {
        const rest = await readPartition(config, part, { batchSize: 4, cursor: JSON.parse(JSON.stringify(page.cursor)) });
        expect(rest.ids, `after page ${i}`).toEqual(pages.slice(i + 1).flatMap((p) => p.records.map((r) => r.id)));
      }
      expect(ids.length).toBeGreaterThan(0);
    }
  });

  it.each([
    ['cursor pagination', { url: '/data/cursor', items: 'data.items', pagination: 'cursor', next: 'meta.next', pageSize: 10, total: 'meta.total' }],
    ['link pagination', { url: '/data/link', items: 'data.items', pagination: 'link', pageSize: 10, total: 'meta.total' }],
    ['page pagination without a total', { url: '/data/page', items: 'data.items', pagination: 'page', pageSize: 10 }],
  ])('%s cannot split: one partition, no request, and it reads everything', async (_, base) => {
    const config = { ...base, url: `${server.url}${base.url}` };
    const parts = await partitionsOf(config, 3);
    expect(parts).toEqual([{}]);
    expect(server.requests).toHaveLength(0);
    expect((await readPartition(config, parts[0])).ids).toEqual(range(0, 45));
  });

  it('a total that fits on one page gives one partition; n = 1 asks nothing', async () => {
    server.items = 8;
    const config = { ...paged, url: `${server.url}/data/page` };
    expect(await partitionsOf(config, 4)).toEqual([{}]);
    server.reset();
    server.items = 45;
    expect(await partitionsOf(config, 1)).toEqual([{}]);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a partition that does not fit the pagination style', async () => {
    const config = { ...paged, url: `${server.url}/data/page` };
    await expect(readPartition(config, { fromOffset: 0, toOffset: 10 })).rejects.toThrow(
      '{"fromOffset":0,"toOffset":10} is not a partition of this http source (pagination: page)',
    );
  });
});

describe('http source partitions: total from a header', () => {
  let api: Server;
  let url = '';
  beforeAll(async () => {
    // 0-based pages of 25 (the API's own size: no size parameter is sent), total in X-Total-Count.
    api = createServer((req, res) => {
      const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('p') ?? 0);
      const items = range(page * 25, Math.min(110, page * 25 + 25)).map((id) => ({ id }));
      res.writeHead(200, { 'content-type': 'application/json', 'x-total-count': '110' });
      res.end(JSON.stringify(items));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(api.address() as AddressInfo).port}/items`;
  });
  afterAll(async () => {
    api.closeAllConnections();
    await new Promise((resolve) => api.close(resolve));
  });

  it('learns the page size from the first page and splits 5 pages into 4 partitions', async () => {
    const config = { url, pagination: 'page', startPage: 0, params: { page: 'p' }, totalHeader: 'X-Total-Count' };
    const parts = await partitionsOf(config, 4);
    expect(parts).toEqual([
      { firstPage: 0, lastPage: 0, itemsPerPage: 25 },
      { firstPage: 1, lastPage: 1, itemsPerPage: 25 },
      { firstPage: 2, lastPage: 2, itemsPerPage: 25 },
      { firstPage: 3, itemsPerPage: 25 },
    ]);
    const all: number[] = [];
    const estimates: unknown[] = [];
    for (const part of parts) {
      const { ids, estimate } = await readPartition(config, part);
      all.push(...ids);
      estimates.push(estimate);
    }
    expect(all).toEqual(range(0, 110));
    expect(estimates).toEqual([25, 25, 25, 35]);
  });
});
