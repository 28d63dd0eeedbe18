import { describe, expect, it } from 'vitest';
import { checkExpression, compileExpression, compileTemplate, ExpressionError, ExpressionLimitError, type ExpressionScope } from './index.js';

const scope: ExpressionScope = { env: {}, job: { name: 'limits' } };
const run = (source: string, record: Record<string, unknown>, timeoutMs = 30_000) =>
  compileExpression(source, scope, { timeoutMs }).evaluate(record);

describe('record data cannot stall an evaluation', () => {
  it('runs a pattern that backtracks catastrophically elsewhere in linear time', () => {
    const s = 'a'.repeat(5000) + 'b';
    expect(run('/(a+)+$/.test(record.s)', { s })).toBe(false);
    expect(run('record.s.match(/(a|aa)+$/)', { s })).toBeNull();
    expect(run('record.s.replace(/(a+)+$/, "x")', { s })).toBe(s);
  });

  it.each<[string, string, string]>([
    ['(a+)+$', '', `${'a'.repeat(36)}b`],
    ['(a+)+$', 'i', `${'a'.repeat(30)}b`],
    ['(a+)+$', 'gm', `${'a'.repeat(30)}b`],
    ['(x+x+)+y', '', 'x'.repeat(40)],
    ['^(\\w+\\s?)*$', '', `${'a'.repeat(40)}!`],
    ['^(\\w+\\s?)*$', 'iu', `${'a'.repeat(40)}!`],
    ['(.*a){20}', '', 'a'.repeat(40)],
  ])('runs /%s/%s on hostile input without backtracking for minutes, whichever engine takes it', (pattern, flags, s) => {
    expect(typeof run(`/${pattern}/${flags}.test(record.s)`, { s })).toBe('boolean');
    expect(typeof run('record.s.search(record.p)', { s, p: pattern })).toBe('number');
  }, 20_000);

  it.each([
    ['match', 'record.s.match(record.p) === null'],
    ['search', 'record.s.search(record.p) === -1'],
    ['matchAll', 'Array.from(record.s.matchAll(record.p)).length === 0'],
    ['match in an optional chain', 'record.s?.match(record.p)?.[0] === undefined'],
  ])('runs a pattern that comes from the record in linear time (%s)', (_name, source) => {
    expect(run(source, { s: 'a'.repeat(5000) + 'b', p: '(a+)+$' })).toBe(true);
  });

  it('fails an evaluation that runs past its time limit, and the next evaluation starts afresh', () => {
    const list = Array.from({ length: 2000 }, (_, i) => i);
    const slow = compileExpression('record.list.map(a => record.list.map(b => record.list.map(c => a + b + c).length).length)', scope, { timeoutMs: 200 });
    expect(() => slow.evaluate({ list })).toThrow(ExpressionLimitError);
    expect(() => slow.evaluate({ list })).toThrow("the expression ran longer than its time limit (200ms, the step's timeout)");
    expect(slow.evaluate({ list: [1] })).toEqual([1]);
  });

  it('limits the nested loops that never call an arrow more than a few times each', () => {
    const slow = compileExpression('Array.from({ length: 100 }, () => Array.from({ length: 1000000 }).length)', scope, { timeoutMs: 100 });
    expect(() => slow.evaluate({})).toThrow(ExpressionLimitError);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['Array.from({ length: record.n }, (_, i) => i)', { n: 2 ** 32 - 1 }, 'Array.from: 4294967295 elements is more than an expression may make (1000000)'],
    ['Array.from(record.o)', { o: { length: 1e9 } }, 'Array.from: 1000000000 elements'],
    ['record.s.repeat(record.n)', { s: 'ab', n: 2 ** 28 }, 'repeat: 536870912 characters is more than an expression may make (10000000)'],
    ['record.s.padStart(record.n)', { s: 'x', n: 2 ** 30 }, 'padStart: 1073741824 characters'],
    ['record.s.padEnd(record.n, "-")', { s: 'x', n: 1e9 }, 'padEnd: 1000000000 characters'],
    ['record.s?.repeat(record.n).length', { s: 'ab', n: 1e9 }, 'repeat: 2000000000 characters'],
  ])('refuses to build %s from a record that asks for too much', (source, record, message) => {
    expect(() => run(source, record)).toThrow(ExpressionLimitError);
    expect(() => run(source, record)).toThrow(message);
  });

  it.each<[string, Record<string, unknown>, unknown]>([
    ['Array.from({ length: 3 }, (_, i) => i)', {}, [0, 1, 2]],
    ['record.s.repeat(3)', { s: 'ab' }, 'ababab'],
    ['String(record.n).padStart(5, "0")', { n: 42 }, '00042'],
    ['record.s?.repeat(2)', {}, undefined],
    ['record.s?.match(/b+/)[0]', {}, undefined],
    ['record.s?.match(/b+/)[0]', { s: 'abbc' }, 'bb'],
    ['record.o?.s.padEnd(4, ".")', { o: { s: 'ab' } }, 'ab..'],
    ['record.list.map(x => x * 2)', { list: [1, 2] }, [2, 4]],
  ])('keeps the usual results within the limits: %s', (source, record, expected) => {
    expect(run(source, record)).toEqual(expected);
  });

  it('applies the limits to templates too', () => {
    const template = compileTemplate('{{ record.s.repeat(record.n) }}', scope);
    expect(template.render({ s: 'x', n: 3 })).toBe('xxx');
    expect(() => template.render({ s: 'x', n: 1e9 })).toThrow(ExpressionLimitError);
  });
});

describe('what the guards cost', () => {
  it.each(['record.amount > 50', 'record.name.toUpperCase()', "record.status === 'active' && record.email != null", '`${record.a}-${record.b}`', '/^[a-h]/.test(record.name)'])(
    'nothing for %s: its code is what it was, with no watch and no guarded call',
    (source) => {
      const code = compileExpression(source, scope).evaluate.toString();
      expect(code).not.toMatch(/\$\$(t|g|c|Linear)\b/);
    },
  );

  it.each(['record.list.map(x => x * 2)', 'Array.from({ length: 3 })', 'record.s.repeat(2)', '/^a/i.test(record.s)'])('a watch or a guarded call for %s', (source) => {
    expect(compileExpression(source, scope).evaluate.toString()).toMatch(/\$\$(t|g|Linear)\b/);
  });
});

describe('regular expressions', () => {
  it.each<[string, string]>([
    ['/(a)\\1/.test(record.s)', 'the backreference \\1 is not supported'],
    ['/(?<x>a)\\k<x>/.test(record.s)', 'the named backreference \\k<…> is not supported'],
    ['/a(?=b)/.test(record.s)', 'the lookahead (?= is not supported'],
    ['/a(?!b)/.test(record.s)', 'the lookahead (?! is not supported'],
    ['/(?<=a)b/.test(record.s)', 'the lookbehind (?<= is not supported'],
    ['/x/d.test(record.s)', "the regular expression flag 'd' is not supported"],
  ])('refuses %s at validation, saying why', (source, message) => {
    const error = checkExpression(source);
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error!.message).toContain(message);
    expect(error!.offset).toBe(0);
  });

  it('fails a record whose pattern text RE2 cannot run, with the reason', () => {
    expect(() => run('record.s.match(record.p)', { s: 'aa', p: '(a)\\1' })).toThrow('the backreference \\1 is not supported');
  });

  it('gives each evaluation of a literal its own lastIndex, as a RegExp literal does', () => {
    const expression = compileExpression('/a/g.test(record.s)', scope);
    expect([expression.evaluate({ s: 'a' }), expression.evaluate({ s: 'a' })]).toEqual([true, true]);
  });
});

describe('evaluateBatch', () => {
  it('evaluates every record of a batch, keeping the errors by index', () => {
    const where = compileExpression('record.a.b > 1', scope);
    const { values, errors } = where.evaluateBatch([{ a: { b: 2 } }, {}, { a: { b: 0 } }]);
    expect(values).toEqual([true, undefined, false]);
    expect([...errors!.keys()]).toEqual([1]);
    expect(errors!.get(1)).toBeInstanceOf(TypeError);
    expect(where.evaluateBatch([{ a: { b: 5 } }]).errors).toBeUndefined();
  });

  it('fails only the record that runs past the time limit', () => {
    const list = Array.from({ length: 30_000 }, (_, i) => i);
    const where = compileExpression('record.list.every(a => record.list.every(b => a + b >= 0))', scope, { timeoutMs: 100 });
    const { values, errors } = where.evaluateBatch([{ list: [1] }, { list }, { list: [2] }]);
    expect(values).toEqual([true, undefined, true]);
    expect(errors!.get(1)).toBeInstanceOf(ExpressionLimitError);
  });
});
