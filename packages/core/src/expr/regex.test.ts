import { describe, expect, it } from 'vitest';
import { compilePattern, LinearRegExp } from './regex.js';

const linear = (source: string, flags = '') => new LinearRegExp(compilePattern(source, flags));
const native = (source: string, flags = '') => new RegExp(source, flags);

/** What a string method gives with a pattern object: the RE2 one must give what RegExp gives. */
type Use = (re: RegExp, s: string) => unknown;
const uses: Array<[string, Use]> = [
  ['test', (re, s) => re.test(s)],
  ['exec', (re, s) => { const m = re.exec(s); return m && { all: [...m], index: m.index, groups: m.groups && { ...m.groups } }; }],
  ['match', (re, s) => s.match(re)],
  ['search', (re, s) => s.search(re)],
  ['replace with $ patterns', (re, s) => s.replace(re, "[$&|$1|$`|$'|$$]")],
  ['replace with a function', (re, s) => s.replace(re, (...args: unknown[]) => `<${args.slice(0, -2).join(',')}@${String(args.at(-2))}>`)],
  ['split', (re, s) => s.split(re)],
  ['split with a limit', (re, s) => s.split(re, 2)],
  ['global exec, twice', (re, s) => { const a = re.exec(s)?.[0]; const b = re.exec(s)?.[0]; return [a, b, re.lastIndex]; }],
];

const cases: Array<[string, string, string]> = [
  ['(\\d+)-(\\d+)', '', 'a 12-34 b 5-6'],
  ['(\\d+)-(\\d+)', 'g', 'a 12-34 b 5-6'],
  ['(?<year>\\d{4})-(?<month>\\d\\d)', 'g', '2024-05, 2025-06'],
  ['\\s*,\\s*', '', 'a , b,c ,d'],
  ['\\s*,\\s*', 'g', 'a , b,c ,d'],
  ['x*', 'g', 'axxbx'],
  ['', 'g', 'abc'],
  ['(a)|(b)', 'g', 'abc'],
  ['^ada@', 'i', 'ADA@example'],
  ['^b$', 'm', 'a\nb\nc'],
  ['a.c', 's', 'a\nc'],
  ['é+', 'g', 'café éé'],
  ['😀', 'gu', 'a😀b😀'],
  ['[^a-z]+', 'g', 'Hello, World! 123'],
  ['(,)', '', 'a,b,c'],
  ['b', 'y', 'abc'],
];

describe('LinearRegExp behaves as RegExp', () => {
  describe.each(cases)('/%s/%s on %j', (source, flags, input) => {
    it.each(uses)('%s', (_name, use) => {
      const flagsFor = _name.startsWith('global') && !flags.includes('g') ? `${flags}g` : flags;
      expect(use(linear(source, flagsFor) as unknown as RegExp, input)).toEqual(use(native(source, flagsFor), input));
    });
  });

  it('matchAll yields what RegExp yields', () => {
    const all = (re: RegExp) => [...'x1y22z333'.matchAll(re)].map((m) => [m[0], m.index]);
    expect(all(linear('\\d+', 'g') as unknown as RegExp)).toEqual(all(/\d+/g));
    expect(() => 'x'.matchAll(linear('x') as unknown as RegExp)).toThrow(TypeError);
  });

  it('shows its source and flags', () => {
    const re = linear('a+b', 'gi');
    expect([re.source, re.flags, re.global, re.ignoreCase, String(re)]).toEqual(['a+b', 'gi', true, true, '/a+b/gi']);
  });
});
