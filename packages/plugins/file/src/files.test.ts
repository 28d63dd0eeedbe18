import { isDynamicPattern } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { isGlob, MAYBE_GLOB } from './files.js';

// Every string of up to three characters over the characters picomatch's scan treats specially,
// a separator, a letter and a dot, and paths as jobs name them.
const ALPHABET = ['*', '?', '[', ']', '{', '}', '(', ')', '!', '+', '@', '|', '\\', '/', '.', 'a', ',', '-'];
const short = (n: number): string[] => (n === 0 ? [''] : short(n - 1).flatMap((s) => ALPHABET.map((c) => s + c)));
const patterns = [
  ...[1, 2, 3].flatMap(short),
  'in.csv', 'data/users.csv', '/abs/path/in.jsonl.gz', 'data/*.csv', 'data/**/*.jsonl', 'part-?.csv', 'part-[0-9].csv',
  'data/{a,b}.csv', '@(a|b).csv', '!(x).csv', '+(a).csv', '!data/x.csv', 'a\\*.csv', 'my files/2024 (old)/x.csv', 'x+y@z.csv',
];

describe('a path is taken for a glob as tinyglobby takes it, tinyglobby loaded only for a path that may be one', () => {
  it(`agrees with isDynamicPattern on ${patterns.length} patterns`, async () => {
    const wrong: string[] = [];
    for (const p of patterns) {
      if (isDynamicPattern(p) && !MAYBE_GLOB.test(p)) wrong.push(`${p}: a glob without a character of MAYBE_GLOB`);
      if ((await isGlob(p)) !== isDynamicPattern(p)) wrong.push(`${p}: isGlob ${!isDynamicPattern(p)}`);
    }
    expect(wrong).toEqual([]);
  });
});
