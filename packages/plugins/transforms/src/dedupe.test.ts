import { describe, expect, it } from 'vitest';
import { RecordError, type SluiceRecord } from '@sluice/core';
import { createTestContext, runTransform } from '@sluice/core/testing';
import { dedupe, dedupeSchema, type DedupeConfig } from './dedupe.js';

// An explicit schema type: inferring it through an `enum` makes the compiler give up (TS2589).
const dedupeRun = (config: DedupeConfig, records: SluiceRecord[]) => runTransform(dedupe, config, records);

describe('dedupe', () => {
  it.each<[string, DedupeConfig, SluiceRecord[], number[]]>([
    ['by record.id when no key is given', {}, [{ id: 1 }, { id: 2 }, { id: 1 }, { id: 3 }, { id: 2 }], [0, 1, 3]],
    ['by string ids', { key: 'record.id' }, [{ id: 'a' }, { id: 'b' }, { id: 'a' }], [0, 1]],
    ['the string "1" and the number 1 are different keys', {}, [{ id: '1' }, { id: 1 }, { id: '1' }, { id: 1 }], [0, 1]],
    ['null is a key like any other', {}, [{ id: null }, { id: null }], [0]],
    ['by an expression', { key: 'record.email.toLowerCase()' }, [{ email: 'A@b.c' }, { email: 'a@B.C' }, { email: 'x@y.z' }], [0, 2]],
    ['by a composite key', { key: '[record.customer, record.day]' }, [
      { customer: 1, day: 'mon' },
      { customer: 1, day: 'tue' },
      { customer: 2, day: 'mon' },
      { customer: 1, day: 'mon' },
    ], [0, 1, 2]],
    ['composite keys do not collide on separators', { key: 'record.a + record.b' }, [{ a: 'x', b: 'yz' }, { a: 'xy', b: 'z' }], [0]],
    ['an array key is not confused with a string of the same text', { key: '[record.a, record.b]' }, [{ a: 'x', b: 'yz' }, { a: 'xy', b: 'z' }], [0, 1]],
    ['an object key by its JSON text', { key: 'record.address' }, [{ address: { city: 'B', zip: 1 } }, { address: { city: 'B', zip: 1 } }, { address: { city: 'B', zip: 2 } }], [0, 2]],
    ['keep: first', { key: 'record.id', keep: 'first' }, [{ id: 1, v: 'first' }, { id: 1, v: 'second' }], [0]],
  ])('%s', async (_name, config, records, keptIndexes) => {
    const out = await dedupeRun(config, records);
    expect(out).toEqual(keptIndexes.map((i) => records[i]));
  });

  it('passes the first record of a key on as it is', async () => {
    const record = { id: 1 };
    const [out] = await dedupeRun({}, [record]);
    expect(out).toBe(record);
  });

  it('starts with no keys for each new instance (each run)', async () => {
    const records = [{ id: 1 }, { id: 2 }];
    expect(await dedupeRun({}, records)).toEqual(records);
    expect(await dedupeRun({}, records)).toEqual(records);
  });

  it('answers synchronously', async () => {
    const ctx = createTestContext();
    const instance = await dedupe.create({ key: 'record.id', keep: 'first' }, ctx);
    const info = { position: {}, attempt: 1, signal: ctx.signal };
    expect(instance.process({ id: 1 }, info)).toEqual({ id: 1 });
    expect(instance.process({ id: 1 }, info)).toBeNull();
  });

  it('fails a record without a key instead of treating all of them as one key', async () => {
    const run = dedupeRun({}, [{ name: 'no id' }]);
    await expect(run).rejects.toBeInstanceOf(RecordError);
    await expect(run).rejects.toThrow('key: record.id is undefined for this record');
  });

  it('fails a record whose key expression throws', async () => {
    const run = dedupeRun({ key: 'record.user.id' }, [{ id: 1 }]);
    await expect(run).rejects.toBeInstanceOf(RecordError);
    await expect(run).rejects.toThrow(/^key: /);
  });

  it('says in its description how memory and resume behave', () => {
    expect(dedupe.description).toMatch(/memory grows with the number of distinct keys/);
    expect(dedupe.description).toMatch(/resumed run starts with none/);
  });
});
