import { describe, expect, it } from 'vitest';
import { RecordError, type SluiceRecord } from '@sluice/core';
import { runTransform } from '@sluice/core/testing';
import { map, mapNeedsAnOperation, mapRenameTargetsDistinct, mapSchema, mapSetPathsWellFormed, type MapConfig } from './map.js';

// An explicit schema type: inferring it from the plugin can make the compiler give up (TS2589).
const mapRun = (config: MapConfig, records: SluiceRecord[]) => runTransform(map, config, records);

/** Frozen all the way down, so any write to the input throws in these (strict-mode) tests. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

describe('map', () => {
  it.each<[string, MapConfig, SluiceRecord, SluiceRecord]>([
    ['sets a field from an expression', { set: { email: 'record.email.trim().toLowerCase()' } }, { id: 1, email: ' A@B.C ' }, { id: 1, email: 'a@b.c' }],
    ['adds a new field', { set: { big: 'record.amount > 10' } }, { amount: 20 }, { amount: 20, big: true }],
    ['every set expression sees the input record', { set: { a: 'record.b', b: 'record.a' } }, { a: 1, b: 2 }, { a: 2, b: 1 }],
    ['a dotted name creates nested objects', { set: { 'geo.city': "'Berlin'" } }, { id: 1 }, { id: 1, geo: { city: 'Berlin' } }],
    ['a dotted name keeps sibling fields', { set: { 'geo.city': "'Berlin'" } }, { geo: { country: 'DE' } }, { geo: { country: 'DE', city: 'Berlin' } }],
    ['two paths share a parent', { set: { 'geo.city': "'Berlin'", 'geo.zip': "'10115'" } }, {}, { geo: { city: 'Berlin', zip: '10115' } }],
    ['deep paths', { set: { 'a.b.c': '1' } }, { a: { x: 0 } }, { a: { x: 0, b: { c: 1 } } }],
    ['a dotted name replaces a non-object on its way', { set: { 'geo.city': "'Berlin'" } }, { geo: 'unknown' }, { geo: { city: 'Berlin' } }],
    ['a parent and a child: the child goes inside the parent\'s new value', { set: { geo: '{ country: record.c }', 'geo.city': "'Berlin'" } }, { c: 'DE', geo: { old: true } }, { c: 'DE', geo: { country: 'DE', city: 'Berlin' } }],
    ['a nested path inside an array', { set: { 'tags.1': "'b'" } }, { tags: ['a', 'x'] }, { tags: ['a', 'b'] }],
    ['renames a field', { rename: { mail: 'email' } }, { id: 1, mail: 'a@b.c' }, { id: 1, email: 'a@b.c' }],
    ['a missing rename source is left alone', { rename: { mail: 'email' } }, { id: 1, email: 'keep' }, { id: 1, email: 'keep' }],
    ['a rename replaces an existing target', { rename: { mail: 'email' } }, { email: 'old', mail: 'new' }, { email: 'new' }],
    ['renames happen at once (swap)', { rename: { a: 'b', b: 'a' } }, { a: 1, b: 2 }, { b: 1, a: 2 }],
    ['renames do not chain', { rename: { a: 'b', b: 'c' } }, { a: 1, b: 2 }, { b: 1, c: 2 }],
    ['removes fields', { remove: ['password', 'missing'] }, { id: 1, password: 'x' }, { id: 1 }],
    ['set, then rename', { set: { a: '1' }, rename: { a: 'b' } }, {}, { b: 1 }],
    ['rename, then remove by the new name', { rename: { a: 'b' }, remove: ['b'] }, { a: 1, c: 3 }, { c: 3 }],
    ['removing a rename source does not undo the rename', { rename: { a: 'b' }, remove: ['a'] }, { a: 1 }, { b: 1 }],
    ['a swapped field removed by its final name', { rename: { a: 'b', b: 'a' }, remove: ['a'] }, { a: 1, b: 2 }, { b: 1 }],
    ['set, rename and remove together', { set: { name: "record.first + ' ' + record.last" }, rename: { name: 'fullName' }, remove: ['first', 'last'] }, { id: 7, first: 'Ada', last: 'Lovelace' }, { id: 7, fullName: 'Ada Lovelace' }],
  ])('%s', async (_name, config, input, expected) => {
    const [out] = await mapRun(config, [deepFreeze(structuredClone(input))]);
    expect(out).toEqual(expected);
  });

  it('returns a new object and shares no changed container with the input', async () => {
    const input = { id: 1, geo: { country: 'DE' }, tags: ['a'] };
    const before = structuredClone(input);
    const [out] = await mapRun({ set: { 'geo.city': "'Berlin'" } }, [input]);
    expect(out).not.toBe(input);
    expect(out!.geo).not.toBe(input.geo);
    expect(out!.tags).toBe(input.tags); // untouched containers are shared, not copied
    expect(input).toEqual(before);
  });

  it('keeps a renamed field at the position of its old name', async () => {
    const [out] = await mapRun({ rename: { b: 'x' } }, [{ a: 1, b: 2, c: 3 }]);
    expect(Object.keys(out!)).toEqual(['a', 'x', 'c']);
  });

  it('treats a "__proto__" field as data, never as the prototype', async () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as SluiceRecord;
    const [renamed] = await mapRun({ rename: { a: 'b' } }, [input]);
    expect(Object.getPrototypeOf(renamed)).toBe(Object.prototype);
    expect(Object.hasOwn(renamed!, '__proto__')).toBe(true);
    expect((renamed as { polluted?: unknown }).polluted).toBeUndefined();

    const [added] = await mapRun({ set: { b: '1' } }, [input]);
    expect(Object.getPrototypeOf(added)).toBe(Object.prototype);
    expect(added).toEqual(JSON.parse('{"__proto__": {"polluted": true}, "a": 1, "b": 1}'));

    const [set] = await mapRun({ set: { '__proto__.polluted': 'true' } }, [{ a: 1 }]);
    expect(Object.getPrototypeOf(set)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(set, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('runs over many records with the same compiled plan', async () => {
    const records = Array.from({ length: 100 }, (_, id) => ({ id, n: id }));
    const out = await mapRun({ set: { double: 'record.n * 2' }, remove: ['n'] }, records);
    expect(out).toEqual(records.map(({ id, n }) => ({ id, double: n * 2 })));
  });

  it('processBatch gives what process gives, record by record, without changing the input, and names the records that throw', async () => {
    const { createTestContext } = await import('@sluice/core/testing');
    const ctx = createTestContext();
    const config: MapConfig = { set: { 'user.email': 'record.email.trim()', n2: 'record.n * 2' }, rename: { n: 'count' } };
    const instance = await map.create(config, ctx);
    const records = deepFreeze([{ id: 1, n: 1, email: ' a ' }, { id: 2, n: 2 }, { id: 3, n: 3, email: 'c', user: { name: 'x' } }] as SluiceRecord[]);
    const { results, failed } = instance.processBatch!(records, { positions: records.map(() => ({})), signal: ctx.signal });
    const info = { position: {}, attempt: 1, signal: ctx.signal };
    expect(results[0]).toEqual(instance.process(records[0]!, info));
    expect(results[2]).toEqual(instance.process(records[2]!, info));
    expect(results[2]).toEqual({ id: 3, count: 3, email: 'c', user: { name: 'x', email: 'c' }, n2: 6 });
    expect(failed).toHaveLength(1);
    expect(failed![0]!.index).toBe(1);
    expect(String(failed![0]!.error)).toMatch(/set\.user\.email: /);
  });

  it('fails a record whose expression throws with a record error naming the field', async () => {
    const run = mapRun({ set: { 'user.email': 'record.email.trim()' } }, [{ id: 1 }]);
    await expect(run).rejects.toBeInstanceOf(RecordError);
    await expect(run).rejects.toThrow(/^set\.user\.email: /);
  });
});

describe('map rules', () => {
  it('lists its rules on the definition', () => {
    expect(map.rules).toEqual([mapNeedsAnOperation, mapSetPathsWellFormed, mapRenameTargetsDistinct]);
  });

  it.each<[string, MapConfig, string | undefined]>([
    ['nothing configured', {}, 'map needs at least one of set, remove, rename'],
    ['only empty operations', { set: {}, rename: {}, remove: [] }, 'map needs at least one of set, remove, rename'],
    ['set only', { set: { a: '1' } }, undefined],
    ['rename only', { rename: { a: 'b' } }, undefined],
    ['remove only', { remove: ['a'] }, undefined],
  ])('needs an operation: %s', (_name, config, message) => {
    expect(mapNeedsAnOperation(config)?.message).toBe(message);
  });

  it.each<[string, MapConfig, Array<{ path: string; fragment: string }>]>([
    ['well-formed paths', { set: { a: '1', 'geo.city': '2' } }, []],
    ['doubled dot', { set: { 'geo..city': '1' } }, [{ path: 'set', fragment: '"geo..city" has an empty path segment' }]],
    ['leading dot', { set: { '.a': '1' } }, [{ path: 'set', fragment: '".a"' }]],
    ['trailing dot and doubled dot', { set: { 'a.': '1', 'b..c': '2' } }, [{ path: 'set', fragment: '"a."' }, { path: 'set', fragment: '"b..c"' }]],
  ])('set paths: %s', (_name, config, expected) => {
    const violations = mapSetPathsWellFormed(config) ?? [];
    expect(violations).toHaveLength(expected.length);
    expected.forEach(({ path, fragment }, i) => {
      expect(violations[i]!.path).toBe(path);
      expect(violations[i]!.message).toContain(fragment);
    });
  });

  it.each<[string, MapConfig, { path: string; message: string } | undefined]>([
    ['distinct targets', { rename: { a: 'x', b: 'y' } }, undefined],
    ['two into one', { rename: { a: 'x', b: 'x' } }, { path: 'rename.b', message: '"a" and "b" are both renamed to "x"' }],
    ['three into one', { rename: { a: 'x', b: 'x', c: 'x' } }, { path: 'rename.b', message: '"a", "b" and "c" are all renamed to "x"' }],
    ['a dotted source name points at rename', { rename: { a: 'x', 'b.c': 'x' } }, { path: 'rename', message: '"a" and "b.c" are both renamed to "x"' }],
  ])('rename targets: %s', (_name, config, expected) => {
    const violations = mapRenameTargetsDistinct(config);
    if (expected === undefined) expect(violations).toBeUndefined();
    else expect(violations).toEqual([expect.objectContaining(expected)]);
  });
});
