import type { SourcePage } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { JsonLinesParser, type JsonLinesOptions } from './lines.js';
import { PageCollector } from './page.js';

/** Feeds `data` in chunks of `size` bytes; returns the items in line order and the last cursor. */
function read(data: Buffer, size: number, options: JsonLinesOptions = {}) {
  const out = new PageCollector(1000, false);
  out.beginFile(0, 'f', () => 0);
  const parser = new JsonLinesParser(out, 'f', 0, 0, options);
  for (let i = 0; i < data.length; i += size) parser.feed(data.subarray(i, i + size));
  parser.end();
  out.finish(0);
  const items: Array<{ line: number; record?: unknown; error?: string; raw?: string }> = [];
  for (const page of out.ready as SourcePage[]) {
    page.records.forEach((r, i) => items.push({ line: page.positions!.at(i)!.line as number, record: r }));
    for (const e of page.errors ?? []) items.push({ line: e.position!.line as number, error: e.error.message, raw: e.raw });
  }
  items.sort((a, b) => a.line - b.line);
  return { items, cursor: out.ready.at(-1)?.cursor as { offset: number; line: number } | undefined };
}

function readAnyhow(data: Buffer, options: JsonLinesOptions = {}) {
  const whole = read(data, data.length || 1, options);
  for (const size of [1, 2, 3, 7, 13, 64]) expect(read(data, size, options), `chunks of ${size} bytes`).toEqual(whole);
  return whole;
}

describe('JSON Lines reader: numbers are never changed silently', () => {
  it('keeps whole numbers beyond 2^53 as BigInt, digits and all, anywhere in a record', () => {
    const data = Buffer.from('{"id":12345678901234567890,"n":[-9007199254740993,{"x":9007199254740991}],"s":"12345678901234567890"}\n{"id":1,"a":1.5}\n');
    const { items } = readAnyhow(data);
    expect(items.map((i) => i.record)).toEqual([
      { id: 12345678901234567890n, n: [-9007199254740993n, { x: 9007199254740991 }], s: '12345678901234567890' },
      { id: 1, a: 1.5 },
    ]);
  });

  it.each(['1e400', '-1e400', '1e-400', '0.1000000000000000055511151231257827', '3.14159265358979323846'])(
    '%s, which no double holds, fails its record with the number named; the next line is read',
    (literal) => {
      const { items } = readAnyhow(Buffer.from(`{"v":${literal}}\n{"v":2}\n`));
      expect(items[0]).toMatchObject({ line: 1, raw: `{"v":${literal}}` });
      expect(items[0]!.error).toMatch(new RegExp(`^the number ${literal.replace(/[.+-]/g, '\\$&')} cannot be held exactly`));
      expect(items[1]).toEqual({ line: 2, record: { v: 2 } });
    },
  );

  it('a long exponent in any spelling (E, a sign, leading zeros) is found on its line among plain ones, whichever way the bytes are cut', () => {
    // The reader checks parsed values for a lost exponent only on lines where a scan of the text found one.
    const data = Buffer.from('{"a":1}\n{"v":1E+400}\n{"a":2}\n{"v":-1e-0400,"w":[1]}\n{"v":[2,{"x":1e0400}]}\n{"a":3}\n');
    const { items } = readAnyhow(data);
    expect(items.map((i) => [i.line, i.record ?? i.error?.match(/^the number (\S+) cannot be held exactly/)?.[1]])).toEqual([
      [1, { a: 1 }],
      [2, '1E+400'],
      [3, { a: 2 }],
      [4, '-1e-0400'],
      [5, '1e0400'],
      [6, { a: 3 }],
    ]);
  });

  it.each([
    ['1e300', 1e300], ['0', 0], ['-0.0', -0], ['1e-300', 1e-300], ['0.1', 0.1], ['123456789012345', 123456789012345], ['1.7976931348623157e308', 1.7976931348623157e308],
    ['0.30000000000000004', 0.30000000000000004], ['5e-324', 5e-324],
  ])('%s stays the number a double holds exactly', (literal, value) => {
    const { items } = readAnyhow(Buffer.from(`{"v":${literal},"e":"x e-1"}\n`));
    expect(items).toEqual([{ line: 1, record: { v: value, e: 'x e-1' } }]);
  });
});

describe('JSON Lines reader: bad bytes, long lines, a last line still being written', () => {
  it('a line that is not UTF-8 is a record error carrying its bytes in base64; the lines around it are read', () => {
    const bad = Buffer.concat([Buffer.from('{"a":"é"}\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n{"a":2}\n')]);
    const { items } = readAnyhow(bad);
    expect(items.map((i) => i.record ?? 'error')).toEqual([{ a: 'é' }, 'error', { a: 2 }]);
    expect(items[1]!.error).toMatch(/^invalid UTF-8 at byte 7 of the line \(0xc3\)/);
    expect(Buffer.from(items[1]!.raw!, 'base64')).toEqual(bad.subarray(11, 21));
  });

  it('a line over maxLineBytes is a record error at its line, skipped without being held; reading goes on', () => {
    const data = Buffer.from(`{"a":1}\n{"big":"${'z'.repeat(10_000)}"}\n{"a":3}\n`);
    const { items, cursor } = readAnyhow(data, { maxLineBytes: 4096 });
    expect(items.map((i) => [i.line, i.record ?? i.error?.slice(0, 33)])).toEqual([
      [1, { a: 1 }],
      [2, 'line longer than 4,096 bytes (max'],
      [3, { a: 3 }],
    ]);
    expect(items[1]!.raw!.startsWith('{"big":"zzz')).toBe(true);
    expect(cursor).toEqual({ file: 0, name: 'f', offset: data.length, line: 3 });
  });

  it('a last line without a line break that does not parse is left for a later run: no error, the cursor before it', () => {
    const data = Buffer.from('{"id":1}\n{"id":2}\n{"id":3,"na');
    const told: Array<[number, number]> = [];
    const { items, cursor } = readAnyhow(data, { onPartialLastLine: (line, bytes) => told.push([line, bytes]) });
    expect(items.map((i) => i.record)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(cursor).toMatchObject({ offset: 18, line: 2 });
    expect(told[0]).toEqual([3, 11]);
    // A complete last line without a break is read as before.
    expect(readAnyhow(Buffer.from('{"id":1}\n{"id":2}')).items.map((i) => i.record)).toEqual([{ id: 1 }, { id: 2 }]);
  });
});

describe('JSON arrays: the same cap per element', () => {
  it('an element over maxLineBytes is a record error; the elements after it are read', async () => {
    const { JsonArrayParser } = await import('./json-array.js');
    const data = Buffer.from(`[{"a":1},{"big":"${'z'.repeat(10_000)}"},{"a":3}]`);
    for (const size of [data.length, 100, 4096]) {
      const out = new PageCollector(1000, true);
      out.beginFile(0, 'f', () => 0);
      const parser = new JsonArrayParser(out, 'f', 0, 0, -1, 4096);
      for (let i = 0; i < data.length; i += size) parser.feed(data.subarray(i, i + size));
      parser.end();
      out.finish(0);
      const page = out.ready[0]!;
      expect(page.records).toEqual([{ a: 1 }, { a: 3 }]);
      expect(page.errors?.map((e) => [e.position, e.error.message.slice(0, 50), e.raw!.slice(0, 12)])).toEqual([
        [{ file: 'f', line: 1, index: 1 }, 'array element 1: element longer than 4,096 bytes (', '{"big":"zzzz'],
      ]);
    }
  });
});

describe('JSON arrays: bytes that are not UTF-8', () => {
  it('make their element a record error carrying the bytes in base64; the elements after it are read', async () => {
    const { JsonArrayParser } = await import('./json-array.js');
    const bad = Buffer.concat([Buffer.from('[{"a":1},{"a":"'), Buffer.from([0xff]), Buffer.from('"},{"a":3}]')]);
    const out = new PageCollector(1000, true);
    out.beginFile(0, 'f', () => 0);
    const parser = new JsonArrayParser(out, 'f', 0, 0, -1);
    parser.feed(bad);
    parser.end();
    out.finish(0);
    const page = out.ready[0]!;
    expect(page.records).toEqual([{ a: 1 }, { a: 3 }]);
    expect(page.errors![0]!.error.message).toMatch(/^array element 1: invalid UTF-8 at byte 7 of the element \(0xff\)/);
    expect(Buffer.from(page.errors![0]!.raw!, 'base64')).toEqual(bad.subarray(9, 18));
  });
});
