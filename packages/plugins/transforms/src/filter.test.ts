import { describe, expect, it } from 'vitest';
import { RecordError, type SluiceRecord } from '@sluice/core';
import { runTransform } from '@sluice/core/testing';
import { filter, filterSchema, type FilterConfig } from './filter.js';

// An explicit schema type: inferring it from the plugin can make the compiler give up (TS2589).
const filterRun = (config: FilterConfig, records: SluiceRecord[]) => runTransform(filter, config, records);

describe('filter', () => {
  it.each<[string, SluiceRecord, boolean]>([
    ['record.amount > 10', { amount: 11 }, true],
    ['record.amount > 10', { amount: 10 }, false],
    ['record.email != null', { email: 'a@b.c' }, true],
    ['record.email != null', { email: null }, false],
    ['record.email != null', {}, false],
    ['record.name', { name: 'x' }, true],
    ['record.name', { name: '' }, false],
    ['record.count', { count: 0 }, false],
    ["record.status === 'active' && record.age >= 18", { status: 'active', age: 18 }, true],
    ["record.status === 'active' && record.age >= 18", { status: 'active', age: 17 }, false],
  ])('where %s on %j keeps it: %s', async (where, record, kept) => {
    const out = await filterRun({ where }, [record]);
    expect(out).toEqual(kept ? [record] : []);
  });

  it('passes kept records on unchanged, in order, and drops the rest', async () => {
    const records = [{ id: 1, n: 5 }, { id: 2, n: 50 }, { id: 3, n: 15 }, { id: 4, n: 1 }];
    const out = await filterRun({ where: 'record.n > 10' }, records);
    expect(out).toEqual([records[1], records[2]]);
    expect(out[0]).toBe(records[1]);
  });

  it('returns null (not a promise) for a dropped record', async () => {
    const { createTestContext } = await import('@sluice/core/testing');
    const ctx = createTestContext();
    const instance = await filter.create({ where: 'record.n > 10' }, ctx);
    const info = { position: {}, attempt: 1, signal: ctx.signal };
    expect(instance.process({ n: 1 }, info)).toBeNull();
    expect(instance.process({ n: 11 }, info)).toEqual({ n: 11 });
  });

  it('processBatch keeps the same records as process, passes them on uncopied, and names the records that throw', async () => {
    const { createTestContext } = await import('@sluice/core/testing');
    const ctx = createTestContext();
    const instance = await filter.create({ where: 'record.user.age > 18' }, ctx);
    const records: SluiceRecord[] = [{ user: { age: 20 } }, { user: { age: 3 } }, { id: 3 }, { user: { age: 30 } }];
    const { results, failed } = instance.processBatch!(records, { positions: records.map(() => ({})), signal: ctx.signal });
    expect(results[0]).toBe(records[0]);
    expect(results[1]).toBeNull();
    expect(results[3]).toBe(records[3]);
    expect(failed).toHaveLength(1);
    expect(failed![0]!.index).toBe(2);
    expect(failed![0]!.error).toBeInstanceOf(RecordError);
    expect(String(failed![0]!.error)).toMatch(/where: /);
  });

  it('fails a record whose expression throws with a record error', async () => {
    const run = filterRun({ where: 'record.user.age > 18' }, [{ id: 1 }]);
    await expect(run).rejects.toBeInstanceOf(RecordError);
    await expect(run).rejects.toThrow(/^where: /);
  });
});
