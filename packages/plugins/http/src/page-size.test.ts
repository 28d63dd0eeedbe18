// pageSize under the names the docs give, and a warning when the API reads another one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDefaults, createTestContext, type SourcePage } from '@sluice/core';
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
beforeEach(() => server.reset());

/** Reads the source to the end; returns the warnings it logged. */
async function warningsOf(config: Record<string, unknown>): Promise<string[]> {
  const ctx = createTestContext({ kind: 'source' });
  const source = await httpSource.create(withDefaults(httpSource.schema, config), ctx);
  const pages: SourcePage[] = [];
  for await (const page of source.read({ cursor: undefined, batchSize: 100, signal: ctx.signal })) pages.push(page);
  await source.close?.();
  expect(pages.flatMap((p) => p.records)).toHaveLength(45);
  return ctx.logger.lines.filter((l) => l.level === 'warn').map((l) => l.message);
}

describe('pageSize', () => {
  // The README's table of what each style sends is the contract: its first-request column is checked here.
  const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
  it.each(['page', 'offset', 'cursor', 'link'])('pagination %s sends first what the README says it does', async (style) => {
    const documented = new RegExp(`^\\s*\\| \`${style}\` \\| \`\\?([^\`]*)\``, 'm').exec(readme)?.[1];
    expect(documented, `README row for ${style}`).toBeDefined();
    await warningsOf({ url: `${server.url}/data/${style}`, items: 'data.items', pagination: style, pageSize: 20, ...(style === 'cursor' ? { next: 'meta.next' } : {}) });
    expect(server.requests[0]!.query.toString()).toBe(documented);
  });

  it('an API that ignores the size parameter gets a warning naming the parameter and params.size', async () => {
    const warnings = await warningsOf({ url: `${server.url}/data/offset`, items: 'data.items', pagination: 'offset', pageSize: 25, params: { size: 'size' } });
    expect(warnings).toEqual([expect.stringMatching(/pageSize 25 is sent as 'size', but a page held fewer records and more followed: .*set params\.size/)]);
  });

  it('pages that hold pageSize records (the last one fewer) raise no warning', async () => {
    expect(await warningsOf({ url: `${server.url}/data/page`, items: 'data.items', pagination: 'page', pageSize: 20 })).toEqual([]);
  });
});
