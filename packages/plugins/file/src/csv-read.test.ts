import type { SourcePage } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { CsvRecordParser, type CsvReadOptions } from './csv-read.js';
import { PageCollector } from './page.js';

const defaults: CsvReadOptions = { delimiter: ',', header: true, quote: '"', skipEmptyLines: true, cast: false };

interface Item {
  kind: 'record' | 'error';
  line: number;
  value: unknown;
}

/** Feeds `data` in chunks of `size` bytes; returns the items in order and the last cursor. */
function read(data: Buffer, size: number, options: Partial<CsvReadOptions> = {}): { items: Item[]; cursor: unknown; protos: unknown[] } {
  const out = new PageCollector(1000, false);
  out.beginFile(0, 'f', () => 0);
  const parser = new CsvRecordParser(out, 'f', 0, 0, { ...defaults, ...options });
  for (let i = 0; i < data.length; i += size) parser.feed(data.subarray(i, i + size));
  parser.end();
  out.finish(0);
  const items: Item[] = [];
  const protos: unknown[] = [];
  for (const page of out.ready as SourcePage[]) {
    page.records.forEach((r, i) => {
      items.push({ kind: 'record', line: page.positions![i]!.line as number, value: r });
      protos.push(Object.getPrototypeOf(r));
    });
    for (const e of page.errors ?? []) items.push({ kind: 'error', line: e.position!.line as number, value: `${e.error.message} | ${e.raw}` });
  }
  items.sort((a, b) => a.line - b.line);
  return { items, cursor: out.ready.at(-1)?.cursor, protos };
}

const everySize = (data: Buffer) => Array.from({ length: Math.min(data.length, 40) }, (_, i) => i + 1);

/** Reads `text` whole and in chunks of every size from 1 byte; all must agree. Returns the whole read. */
function readAnyhow(text: string | Buffer, options: Partial<CsvReadOptions> = {}) {
  const data = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const whole = read(data, data.length || 1, options);
  for (const size of everySize(data)) expect(read(data, size, options), `chunks of ${size} bytes`).toEqual(whole);
  return whole;
}

const records = (items: Item[]) => items.filter((i) => i.kind === 'record').map((i) => i.value);

describe('CSV reader: what chunk boundaries could break', () => {
  it.each([
    ['a quote at a chunk boundary, doubled quotes', 'a,b\n"x""y","""z"""\n"",""""\n', [{ a: 'x"y', b: '"z"' }, { a: '', b: '"' }]],
    ['CRLF split across chunks, inside and outside quotes', 'a,b\r\n1,"l1\r\nl2"\r\n2,x\r\n', [{ a: '1', b: 'l1\r\nl2' }, { a: '2', b: 'x' }]],
    ['multi-byte UTF-8 split across chunks', 'nom,ville\né€😀,"ü, ß"\nçà,日本\n', [{ nom: 'é€😀', ville: 'ü, ß' }, { nom: 'çà', ville: '日本' }]],
    ['an empty last field, with and without a line break', 'a,b,c\n1,2,\n3,,\n4,5,', [{ a: '1', b: '2', c: '' }, { a: '3', b: '', c: '' }, { a: '4', b: '5', c: '' }]],
    ['a quoted field at the very end of the file', 'a,b\n1,"x\ny"', [{ a: '1', b: 'x\ny' }]],
    ['a multi-byte delimiter', 'a§b\n1§"2§3"\n', [{ a: '1', b: '2§3' }]],
  ])('%s', (_name, text, expected) => {
    const { items } = readAnyhow(text, { delimiter: text.includes('§') ? '§' : ',' });
    expect(items.filter((i) => i.kind === 'error')).toEqual([]);
    expect(records(items)).toEqual(expected);
  });

  it('cast: a quoted empty string stays "", an unquoted empty field is null, quoted numbers are numbers', () => {
    const { items } = readAnyhow('a,b,c,d,e\n"",,"7",x,""""\n', { cast: true });
    expect(records(items)).toEqual([{ a: '', b: null, c: 7, d: 'x', e: '"' }]);
  });

  it.each([
    ['0', 0], ['-12', -12], ['1.50', 1.5], ['-0.25', -0.25], ['007', '007'], ['1e3', 1000], ['TRUE', true], ['False', false], ['truth', 'truth'],
    ['9007199254740991', 9007199254740991], ['9007199254740993', '9007199254740993'], ['12345678901234567890', '12345678901234567890'],
    ['1e400', '1e400'], ['1e-400', '1e-400'], ['0.1000000000000000055511151231257827', '0.1000000000000000055511151231257827'],
    ['123456789.123456', 123456789.123456], ['1.', '1.'], ['-', '-'], ['2024-03-07', '2024-03-07'], ['1,5', '1,5'],
  ])('cast %j → %j (a number a double does not hold exactly stays text)', (cell, expected) => {
    const { items } = readAnyhow(`v\n"${cell}"\n`, { cast: true });
    expect(records(items)).toEqual([{ v: expected }]);
  });

  it('a header named __proto__ is an own column; with cast an empty cell still gives a plain object', () => {
    const { items, protos } = readAnyhow('id,__proto__,constructor\n1,,x\n2,y,\n', { cast: true });
    expect(items.filter((i) => i.kind === 'error')).toEqual([]);
    const [first, second] = records(items) as Array<Record<string, unknown>>;
    expect(Object.keys(first!)).toEqual(['id', '__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(first, '__proto__')?.value).toBeNull();
    expect(Object.getOwnPropertyDescriptor(second, '__proto__')?.value).toBe('y');
    expect(protos.every((p) => p === Object.prototype)).toBe(true);
    expect(String(first)).toBe('[object Object]');
    expect(JSON.stringify(second)).toBe('{"id":2,"__proto__":"y","constructor":null}');
  });

  it('quote: "" reads quotes as text; skipEmptyLines: false makes an empty line a row', () => {
    expect(records(readAnyhow('a,b\n"x,y\n', { quote: '' }).items)).toEqual([{ a: '"x', b: 'y' }]);
    const { items } = readAnyhow('a\n1\n\n2\n', { skipEmptyLines: false });
    expect(records(items)).toEqual([{ a: '1' }, { a: '' }, { a: '2' }]);
  });

  it('bad rows in chunks: each costs its own row, with its line and whole raw text', () => {
    const { items, cursor } = readAnyhow('a,b\r\n1,"x"y\r\n2,ok\r\n3,q"r\r\n4,"open\r\n5,z\r\n');
    expect(items).toEqual([
      { kind: 'error', line: 2, value: 'invalid closing quote: a closing quote must be followed by the delimiter or the end of the line | 1,"x"y' },
      { kind: 'record', line: 3, value: { a: '2', b: 'ok' } },
      { kind: 'error', line: 4, value: expect.stringMatching(/^invalid opening quote.* \| 3,q"r$/) },
      { kind: 'error', line: 5, value: 'unterminated quoted field: the file ends inside quotes | 4,"open\r\n5,z' },
    ]);
    expect(cursor).toMatchObject({ offset: 40, line: 6 });
  });

  it('invalid UTF-8 makes its row a record error carrying the bytes in base64; the rows around it are read', () => {
    const bad = Buffer.concat([Buffer.from('a,b\n1,x\n2,'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('\n3,é\n')]);
    const { items } = readAnyhow(bad);
    expect(records(items)).toEqual([{ a: '1', b: 'x' }, { a: '3', b: 'é' }]);
    const error = items.find((i) => i.kind === 'error')!;
    expect(error.line).toBe(3);
    const [message, raw] = (error.value as string).split(' | ');
    expect(message).toMatch(/^invalid UTF-8 at byte 3 of the line \(0xff\)/);
    expect(Buffer.from(raw!, 'base64')).toEqual(Buffer.from([0x32, 0x2c, 0xff, 0xfe, 0x41]));
  });

  it('a row over maxLineBytes is a record error at its line; it is skipped without being held, and reading goes on', () => {
    const long = `2,"${'x'.repeat(5000)},${'y'.repeat(5000)}"`;
    const data = Buffer.from(`a,b\n1,ok\n${long}\n3,ok\n`);
    const options = { maxLineBytes: 2048 };
    const whole = read(data, data.length, options);
    for (const size of [1000, 1024, 4096, 7]) expect(read(data, size, options), `chunks of ${size}`).toEqual(whole);
    expect(whole.items.map((i) => [i.kind, i.line])).toEqual([
      ['record', 2],
      ['error', 3],
      ['record', 4],
    ]);
    expect(whole.items[1]!.value).toMatch(/^row longer than 2,048 bytes \(maxLineBytes\)/);
  });
});

describe('rows without quotes, sliced straight into records', () => {
  it('gives the records and errors splitting gives, for one- and multi-character delimiters, empty fields and wrong counts', () => {
    for (const delimiter of [',', '||', ';']) {
      const rows = ['a|b', 'x', '', 'x,y,z', ',,', 'p,q,', ',only', 'one,two,three,four', 'ü,ñ,é', '__proto__,2,3'];
      const lines = rows.map((r) => r.split(',').join(delimiter));
      const data = Buffer.from(`c1${delimiter}__proto__${delimiter}c3\n${lines.join('\r\n')}\n`);
      const expected: Item[] = [];
      lines.forEach((line, i) => {
        const fields = line.split(delimiter);
        if (line === '') return;
        if (fields.length !== 3) {
          expected.push({ kind: 'error', line: i + 2, value: `wrong number of fields: expected 3, got ${fields.length} | ${line}` });
          return;
        }
        const record: Record<string, unknown> = {};
        record.c1 = fields[0];
        Object.defineProperty(record, '__proto__', { value: fields[1], enumerable: true, writable: true, configurable: true });
        record.c3 = fields[2];
        expected.push({ kind: 'record', line: i + 2, value: record });
      });
      const sort = (items: Item[]) => [...items].sort((a, b) => a.line - b.line);
      for (const size of [1, 7, 1 << 20]) {
        const { items, protos } = read(data, size, { delimiter });
        expect(sort(items)).toEqual(expected);
        expect(protos.every((p) => p === Object.prototype)).toBe(true);
      }
    }
  });
});
