import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  captureSink,
  checkConfig,
  collectSource,
  createTestContext,
  defineSink,
  defineSource,
  defineTransform,
  RecordError,
  runTransform,
  writeSink,
  type ConfigOf,
  type SluiceRecord,
} from '@sluice/core';
import { tempDir } from './support/cli.js';

// A plugin author's view: the whole API from '@sluice/core', tests in a few lines.
const upperSchema = {
  type: 'object',
  properties: {
    field: { type: 'string', description: 'The field to upper-case.' },
    when: { type: 'string', expression: true, description: 'Only records for which this is true.' },
  },
  required: ['field'],
  additionalProperties: false,
} as const;

const upper = defineTransform({
  name: 'upper',
  description: 'Upper-cases a field',
  schema: upperSchema,
  rules: [(c: ConfigOf<typeof upperSchema>) => (c.field === 'id' ? { path: 'field', message: 'id cannot be upper-cased' } : undefined)],
  create(config, ctx) {
    const when = config.when ? ctx.expression(config.when) : undefined;
    ctx.logger.info('created', { field: config.field });
    return {
      process(record: SluiceRecord) {
        if (when && !when.evaluate(record)) return null;
        const value = record[config.field];
        if (typeof value !== 'string') throw new RecordError(`${config.field} is not a string`);
        return { ...record, [config.field]: value.toUpperCase() };
      },
    };
  },
});

describe('testing helpers for plugin authors', () => {
  it('runTransform runs a transform over records', async () => {
    expect(await runTransform(upper, { field: 'name', when: 'record.keep' }, [{ name: 'ada', keep: true }, { name: 'x', keep: false }])).toEqual([
      { name: 'ADA', keep: true },
    ]);
    await expect(runTransform(upper, { field: 'name' }, [{ name: 1 }])).rejects.toBeInstanceOf(RecordError);
  });

  it('checks the config against the schema first, as sluice validate would', async () => {
    await expect(runTransform(upper, { feild: 'name' }, [])).rejects.toThrow(
      "invalid config for transform 'upper': missing required key 'field'; feild: unknown key 'feild'",
    );
    // validate: false hands the plugin what no job could (here: no records, so create alone runs).
    expect(await runTransform(upper, { feild: 'name' }, [], { validate: false })).toEqual([]);
  });

  it('checkConfig reports schema problems, then rules, and never runs expressions', () => {
    expect(checkConfig(upper, { field: 'name', when: 'process.exit()' })).toEqual([
      { path: 'when', message: expect.stringContaining("'process'") },
    ]);
    expect(checkConfig(upper, { field: 'id' })).toEqual([{ path: 'field', message: 'id cannot be upper-cased' }]);
    expect(checkConfig(upper, { field: 'id' }, { rules: false })).toEqual([]);
  });

  it('collectSource reads pages from a cursor; writeSink writes batches and returns the state', async () => {
    const numbers = defineSource({
      name: 'numbers',
      description: 'n records',
      schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } as const,
      create: (config) => ({
        async *read({ cursor, batchSize }) {
          for (let i = (cursor as number | undefined) ?? 0; i < config.n; i += batchSize) {
            const records = Array.from({ length: Math.min(batchSize, config.n - i) }, (_, k) => ({ i: i + k }));
            yield { records, cursor: i + records.length };
          }
        },
      }),
    });
    const pages = await collectSource(numbers, { n: 5 }, { batchSize: 2, cursor: 1 });
    expect(pages.map((p) => [p.records.map((r) => r.i), p.cursor])).toEqual([[[1, 2], 3], [[3, 4], 5]]);

    const dir = tempDir('sluice-sdk-');
    const lines = defineSink({
      name: 'lines',
      description: 'a file',
      schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } as const,
      create: async (config, ctx) => {
        const { appendFile } = await import('node:fs/promises');
        let n = (ctx.state as number | undefined) ?? 0;
        return { write: async (records) => { await appendFile(ctx.resolvePath(config.path), records.map((r) => `${JSON.stringify(r)}\n`).join('')); n += records.length; }, state: () => n };
      },
    });
    const { state } = await writeSink(lines, { path: 'out.jsonl' }, [[{ a: 1 }], [{ a: 2 }, { a: 3 }]], { dir });
    expect(state).toBe(3);
    expect(readFileSync(join(dir, 'out.jsonl'), 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
  });

  it('captureSink collects what is written to it; createTestContext keeps log lines', async () => {
    const captured = captureSink();
    await writeSink(captured.plugin, {}, [[{ a: 1 }], [], [{ a: 2 }]]);
    expect(captured.records).toEqual([{ a: 1 }, { a: 2 }]);
    expect(captured.batches).toHaveLength(3);
    expect(captured.writes.map((w) => w.seq)).toEqual([0, 1, 2]);

    const ctx = createTestContext({ env: { LIMIT: '3' }, secrets: ['hunter2'] });
    await upper.create({ field: 'name' }, ctx);
    expect(ctx.logger.lines).toEqual([{ level: 'info', message: 'created', fields: { field: 'name' } }]);
    expect(ctx.expression('Number(env.LIMIT) + 1').evaluate({})).toBe(4);
    expect(ctx.redact('token hunter2')).toBe('token ***');
  });
});
