import type { SourcePage } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { CsvRecordParser } from './csv-read.js';
import { JsonArrayParser } from './json-array.js';
import { JsonLinesParser } from './lines.js';
import { PageCollector } from './page.js';

type Make = (out: PageCollector) => { feed(chunk: Buffer): void; end(): void | Promise<void> };

/** Feeds `data` in chunks of `size` bytes and returns the pages, without cause objects. */
async function parseInChunks(make: Make, data: Buffer, size: number, withIndex = false): Promise<unknown[]> {
  const out = new PageCollector(3, withIndex);
  out.beginFile(0, 'f', () => 0);
  const parser = make(out);
  for (let i = 0; i < data.length; i += size) parser.feed(data.subarray(i, i + size));
  await parser.end();
  out.finish(0);
  return out.ready.map((p: SourcePage) => ({
    ...p,
    errors: p.errors?.map((e) => ({ message: e.error.message, raw: e.raw, position: e.position })),
  }));
}

type Page = { records: unknown[]; positions: { at(i: number): { line: number } }; errors?: Array<{ raw?: string; position: { line: number } }>; cursor: { file: number; offset: number; line: number } };

/** Items in source order (records before errors within a page is not what matters here: lines are). */
function summary(pages: unknown[]): string[] {
  return (pages as Page[]).flatMap((p) => [
    ...[
      ...p.records.map((r, i) => ({ line: p.positions.at(i).line, text: `record ${p.positions.at(i).line} ${JSON.stringify(r)}` })),
      ...(p.errors ?? []).map((e) => ({ line: e.position.line, text: `error ${e.position.line} ${e.raw}` })),
    ]
      .sort((a, b) => a.line - b.line)
      .map((x) => x.text),
    `cursor ${p.cursor.file}:${p.cursor.offset} line ${p.cursor.line}`,
  ]);
}

const sizes = [1, 2, 3, 5, 17, 1 << 20];

describe('parsers give the same pages whatever the chunk boundaries', () => {
  it.each(sizes)('JSON Lines in chunks of %i bytes', async (size) => {
    const data = Buffer.from('\ufeff{"a":"é€😀"}\r\n\r\n{"b":[1,2]}\n{bad\n  \n[1]\n{"c":"\\n"}\r\n{"d":1}');
    const make: Make = (out) => new JsonLinesParser(out, 'f', 0, 0);
    const expected = await parseInChunks(make, data, data.length);
    expect(await parseInChunks(make, data, size)).toEqual(expected);
    expect(summary(expected)).toEqual([
      'record 1 {"a":"é€😀"}',
      'record 3 {"b":[1,2]}',
      'error 4 {bad',
      'cursor 0:41 line 4',
      'error 6 [1]',
      'record 7 {"c":"\\n"}',
      'record 8 {"d":1}',
      `cursor 0:${data.length} line 8`,
    ]);
  });

  it.each(sizes)('JSON arrays in chunks of %i bytes', async (size) => {
    const data = Buffer.from('\ufeff [\n {"a":"]}\\"\\\\","é":["€",{"x":"😀"}]},\n{"b":1} , 2,{"c":\n"x"},\n{"bad":},"s",{"d":null}\n]\n');
    const make: Make = (out) => new JsonArrayParser(out, 'f', 0, 0, -1);
    const expected = await parseInChunks(make, data, data.length, true);
    expect(await parseInChunks(make, data, size, true)).toEqual(expected);
    expect(summary(expected)).toEqual([
      'record 2 {"a":"]}\\"\\\\","é":["€",{"x":"😀"}]}',
      'record 3 {"b":1}',
      'error 3 2',
      'cursor 0:60 line 3',
      'record 3 {"c":"x"}',
      'error 5 {"bad":}',
      'error 5 "s"',
      'cursor 0:85 line 5',
      'record 5 {"d":null}',
      'cursor 0:96 line 5',
    ]);
  });

  it.each(sizes)('CSV in chunks of %i bytes', async (size) => {
    const data = Buffer.from('\ufeffid,"na""me"\r\n1,"é, ""q"""\r\n\r\n2,"multi\r\nline"\r\n3\r\n4,€\r\n5,"open\r\n');
    const options = { delimiter: ',', header: true, quote: '"', skipEmptyLines: true, cast: false };
    const make: Make = (out) => new CsvRecordParser(out, 'f', 0, 0, options);
    const expected = await parseInChunks(make, data, data.length);
    expect(await parseInChunks(make, data, size)).toEqual(expected);
    expect(summary(expected)).toEqual([
      'record 2 {"id":"1","na\\"me":"é, \\"q\\""}',
      'record 4 {"id":"2","na\\"me":"multi\\r\\nline"}',
      'error 6 3',
      'cursor 0:53 line 6',
      'record 7 {"id":"4","na\\"me":"€"}',
      'error 8 5,"open',
      `cursor 0:${data.length} line 8`,
    ]);
  });
  it.each(sizes)('CSV with broken quotes in chunks of %i bytes: each costs its own row, up to the line it is on', async (size) => {
    const data = Buffer.from('\ufeffid,v\r\n1,"a"b\r\n\r\n2,x\r\n3,c"d\r\n4,"multi\r\nline"\r\n5,"e""f\r\ng"h,i\r\n6,y\r\n7,"z"!');
    const options = { delimiter: ',', header: true, quote: '"', skipEmptyLines: true, cast: false };
    const make: Make = (out) => new CsvRecordParser(out, 'f', 0, 0, options);
    const expected = await parseInChunks(make, data, data.length);
    expect(await parseInChunks(make, data, size)).toEqual(expected);
    expect(summary(expected)).toEqual([
      'error 2 1,"a"b',
      'record 4 {"id":"2","v":"x"}',
      'error 5 3,c"d',
      'cursor 0:31 line 5',
      'record 6 {"id":"4","v":"multi\\r\\nline"}',
      'error 8 5,"e""f\r\ng"h,i',
      'record 10 {"id":"6","v":"y"}',
      'cursor 0:69 line 10',
      'error 11 7,"z"!',
      `cursor 0:${data.length} line 11`,
    ]);
  });

  it.each(sizes)('CSV without a header row in chunks of %i bytes: rows after a broken quote are held to the first row\'s length', async (size) => {
    const data = Buffer.from('1,a\n2,"b"c\n3,d,extra\n4,e\n');
    const options = { delimiter: ',', header: false, quote: '"', skipEmptyLines: true, cast: false };
    const make: Make = (out) => new CsvRecordParser(out, 'f', 0, 0, options);
    const expected = await parseInChunks(make, data, data.length);
    expect(await parseInChunks(make, data, size)).toEqual(expected);
    expect(summary(expected)).toEqual(['record 1 {"0":"1","1":"a"}', 'error 2 2,"b"c', 'error 3 3,d,extra', 'cursor 0:21 line 3', 'record 4 {"0":"4","1":"e"}', `cursor 0:${data.length} line 4`]);
  });
});
