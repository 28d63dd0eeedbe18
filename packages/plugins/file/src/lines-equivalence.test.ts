import type { SourcePage } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { JsonLinesParser, type JsonLinesOptions } from './lines.js';
import { PageCollector } from './page.js';

// The JSON Lines reader parses a piece of lines with one JSON.parse when it can (lines.ts,
// `processWhole`) and line by line otherwise. These tests feed the same bytes, cut the same way,
// through both paths and require identical pages: records, positions, record errors (message,
// details, raw), cursors and progress.

/** mulberry32: small, deterministic. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lines (without their line break) that each path must read the same way. */
const TRICKY = [
  '{"id":1,"name":"ann","amount":12.5}',
  '{"id":2,"name":"bo","tags":["a","b"],"geo":{"lat":1.5,"lon":-2}}',
  '{"s":"é ü 日本 🎉","e":"\\u00e9\\n\\"q\\""}',
  '{"__proto__":{"polluted":true},"a":1}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"a":1,"b":2,"a":3}',
  '{"big":12345678901234567890,"n":-9007199254740993}',
  '{"v":1e400}',
  '{"v":1e-400}',
  '{"v":0e-5,"w":"e-"}',
  '{"v":1.7976931348623157e308}',
  '{"v":5e-324}',
  '{"v":1E+308,"s":"e400"}',
  '{"v":0.1000000000000000055511151231257827}',
  '{"v":123456789012345}',
  '{"s":"a},{b"}',
  '{"a":1},{"b":2}',
  '{"a":1} , {"b":2}',
  '{"a":[{"x":1}',
  '{"y":2}]}',
  '{"a":1',
  '"b":2}',
  '{"a":"x',
  'y"}',
  // Pairs of lines that make one value inside `[…]` (one element for two lines).
  '{"a":1\n"b":2}',
  '{"a":[{"x":1}\n{"y":2}]}',
  '{"a":"x\ny"}',
  '{"a":"x\r\ny"}',
  '[1,2]',
  '[{"a":1}]',
  '1',
  '"text"',
  'null',
  'true',
  '',
  '   ',
  '\t{"ws":true}  ',
  '{"a":1}\r',
  '{"bad":}',
  '{"unterminated":"',
  'not json',
  '{}',
  '{"long":"' + 'z'.repeat(300) + '"}',
];

interface Item {
  kind: 'record' | 'error';
  value: unknown;
  position: unknown;
  raw?: string;
}

/** Feeds `data` in pieces of the given sizes; returns every page, flattened to comparable values. */
function read(data: Buffer, cuts: readonly number[], options: JsonLinesOptions, offset = 0, line = 0) {
  const out = new PageCollector(7, false);
  out.beginFile(0, 'f', () => 0);
  const partial: Array<[number, number]> = [];
  const parser = new JsonLinesParser(out, 'f', offset, line, { ...options, onPartialLastLine: (l, b) => partial.push([l, b]) });
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = cuts[i % cuts.length]!;
    parser.feed(data.subarray(at, at + size));
    at += size;
  }
  parser.end();
  out.finish(data.length);
  const pages = (out.ready as SourcePage[]).map((page) => ({
    cursor: page.cursor,
    progress: page.progress,
    items: [
      ...page.records.map((record, i): Item => ({ kind: 'record', value: record, position: page.positions![i] })),
      ...(page.errors ?? []).map(
        (e): Item => ({ kind: 'error', value: [e.error.name, e.error.message, (e.error as { details?: unknown }).details], position: e.position, raw: e.raw }),
      ),
    ],
  }));
  return { pages, partial };
}

/** Own keys and prototypes too: `toEqual` alone would not tell an own `__proto__` key from a changed prototype. */
function shapes(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? `${value}n` : value;
  if (Array.isArray(value)) return value.map(shapes);
  return { proto: Object.getPrototypeOf(value) === Object.prototype, keys: Object.getOwnPropertyNames(value), values: Object.getOwnPropertyNames(value).map((k) => shapes((value as Record<string, unknown>)[k])) };
}

function expectSameBothWays(data: Buffer, cuts: readonly number[], options: JsonLinesOptions = {}, offset = 0, line = 0) {
  const whole = read(data, cuts, { ...options, wholePieces: true }, offset, line);
  const byLine = read(data, cuts, { ...options, wholePieces: false }, offset, line);
  expect(shapes(whole)).toEqual(shapes(byLine));
  expect(whole).toEqual(byLine);
}

describe('JSON Lines reader: one parse per piece reads exactly what line by line reads', () => {
  it('lines that would merge or split inside `[a,b,…]` never shift a record to another line', () => {
    // Two lines making one object, next to a line holding two: as many elements as lines.
    for (const text of ['{"a":[{"x":1}\n{"y":2}]}\n{"p":1},{"q":2}\n', '{"a":1\n"b":2}\n{"p":1} ,{"q":2}\n', '{"a":"x\ny"}\n{"p":1},\t{"q":2}\n{"z":1}\n']) {
      const data = Buffer.from(text);
      expectSameBothWays(data, [data.length]);
      const { pages } = read(data, [data.length], { wholePieces: true });
      // Line by line every one of those lines is an error, apart from the last of the third text.
      expect(pages.flatMap((p) => p.items.filter((i) => i.kind === 'record'))).toEqual(text.endsWith('{"z":1}\n') ? [{ kind: 'record', value: { z: 1 }, position: { file: 'f', line: 4 } }] : []);
    }
    // The same after a long exponent, which the reader's first scan of a piece stops at.
    for (const text of ['{"v":1e300}\n{"a":[{"x":1}\n{"y":2}]}\n{"p":1},{"q":2}\n', '{"v":1E-300}\n{"a":1\n"b":2}\n{"p":1}, {"q":2}\n']) {
      const data = Buffer.from(text);
      expectSameBothWays(data, [data.length]);
      const { pages } = read(data, [data.length], { wholePieces: true });
      expect(pages.flatMap((p) => p.items.map((i) => [i.kind, i.position]))).toEqual([
        ['record', { file: 'f', line: 1 }],
        ['error', { file: 'f', line: 2 }],
        ['error', { file: 'f', line: 3 }],
        ['error', { file: 'f', line: 4 }],
      ]);
    }
    // Fewer elements than lines, nothing side by side: the piece is read line by line.
    for (const text of ['{"a":1\n"b":2}\n{"c":3}\n', '{"a":"x\ny"}\n{"c":3}\n', '{"a":[{"x":1}\n{"y":2}]}\n{"c":3}\n']) {
      const data = Buffer.from(text);
      expectSameBothWays(data, [data.length]);
      const { pages } = read(data, [data.length], { wholePieces: true });
      expect(pages.flatMap((p) => p.items.map((i) => [i.kind, i.position]))).toEqual([
        ['record', { file: 'f', line: 3 }],
        ['error', { file: 'f', line: 1 }],
        ['error', { file: 'f', line: 2 }],
      ]);
    }
  });

  it('an own `__proto__` key stays an own key, the prototype untouched, on the one-parse path too', () => {
    const data = Buffer.from('{"__proto__":{"polluted":true},"a":1}\n{"b":2}\n');
    const { pages } = read(data, [data.length], { wholePieces: true });
    const record = pages[0]!.items[0]!.value as Record<string, unknown>;
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.keys(record)).toEqual(['__proto__', 'a']);
    expect((record as { polluted?: unknown }).polluted).toBeUndefined();
    expectSameBothWays(data, [data.length]);
  });

  it('random mixes of tricky and plain lines, cut anywhere, BOM, CRLF, a cap, both position modes: identical pages', () => {
    const next = rng(12);
    for (let round = 0; round < 300; round++) {
      const lines: string[] = [];
      const count = 1 + Math.floor(next() * 40);
      const tricky = next() < 0.5 ? 0.05 : 0.4;
      for (let i = 0; i < count; i++) {
        lines.push(next() < tricky ? TRICKY[Math.floor(next() * TRICKY.length)]! : JSON.stringify({ id: i, amount: Math.round(next() * 1e4) / 100, name: 'n'.repeat(Math.floor(next() * 20)) }));
      }
      const eol = next() < 0.2 ? '\r\n' : '\n';
      let text = lines.join(eol) + (next() < 0.7 ? eol : '');
      const bom = next() < 0.1;
      if (bom) text = '\ufeff' + text;
      const data = Buffer.from(text);
      const cuts = next() < 0.3 ? [data.length] : Array.from({ length: 5 }, () => 1 + Math.floor(next() * 300));
      const options: JsonLinesOptions = { maxLineBytes: next() < 0.2 ? 64 + Math.floor(next() * 400) : undefined, mode: next() < 0.3 ? 'offset' : 'line' };
      // A read that begins inside the file (a partition or a resume) has no BOM to skip.
      const [offset, line] = !bom && next() < 0.2 ? [1000, 17] : [0, 0];
      expectSameBothWays(data, cuts, options, offset, line);
    }
  });

  it('bytes that are not UTF-8 among whole lines: identical pages', () => {
    const bad = Buffer.concat([Buffer.from('{"a":"é"}\n{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n{"a":2}\n{"a":1},{"b":2}\n{"c":3}\n')]);
    for (const cuts of [[bad.length], [5], [7, 3, 11]]) expectSameBothWays(bad, cuts);
  });
});
