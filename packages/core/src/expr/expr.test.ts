import { describe, it, expect } from 'vitest';
import {
  ExpressionError,
  checkExpression,
  checkTemplate,
  compileExpression,
  compileTemplate,
  type ExpressionScope,
} from './index.js';

const scope: ExpressionScope = { env: { REGION: 'eu-west-1' }, job: { name: 'geo-enrich' } };

const record = {
  email: '  Ada@Example.COM ',
  amount: 12.5,
  country: 'FR',
  tags: ['a', 'b'],
  a: 1,
  b: 'x',
  x: 3.14159,
  first: 'Ada',
  last: 'Lovelace',
  ts: '2024-03-01T12:00:00Z',
  items: [
    { sku: 'S1', qty: 2 },
    { sku: 'S2', qty: 0 },
    { sku: 'S3', qty: 5 },
  ],
  nested: { deep: { value: 7 } },
  nothing: null,
};

const run = (source: string, rec: Record<string, unknown> = record) => compileExpression(source, scope).evaluate(rec);

/** The error `checkExpression` reports; fails the test when there is none. */
function rejection(source: string): ExpressionError {
  const error = checkExpression(source);
  expect(error, `expected ${source} to be rejected`).toBeInstanceOf(ExpressionError);
  return error!;
}

describe('valid expressions', () => {
  it.each<[string, unknown]>([
    ['record.email.trim().toLowerCase()', 'ada@example.com'],
    ['record.amount > 10 && record.country != null', true],
    ['record.amount > 100 || record.country == null', false],
    ['record.tags?.length ?? 0', 2],
    ['record.missing?.length ?? 0', 0],
    ['`${record.a}-${record.b}`', '1-x'],
    ['Math.round(record.x * 100) / 100', 3.14],
    ['record.items.filter(i => i.qty > 0).map(i => i.sku)', ['S1', 'S3']],
    ['record.items.reduce((sum, i) => sum + i.qty, 0)', 7],
    ['new Date(record.ts).toISOString()', '2024-03-01T12:00:00.000Z'],
    ['new Date(0).getTime()', 0],
    ['env.REGION', 'eu-west-1'],
    ['env.MISSING ?? "default"', 'default'],
    ['job.name', 'geo-enrich'],
    ['record.nested.deep.value', 7],
    ['record["nested"]["deep"].value', 7],
    ['record.nested?.deep?.["value"]', 7],
    ['record.nothing?.deep.value', undefined],
    ['(record.nothing?.deep)?.value', undefined],
    ['record.tags[0]', 'a'],
    ['record.tags[record.a]', 'b'],
    ['record.amount >= 10 ? "big" : "small"', 'big'],
    ['typeof record.amount', 'number'],
    ['!record.nothing', true],
    ['-record.a', -1],
    ['2 ** 10', 1024],
    ['(-2) ** 2', 4],
    ['record.a in record ? 1 : 0', 0],
    ['"email" in record', true],
    ['[1, , 3].length', 3],
    ['[1, 2, ,].length', 3],
    ['[...record.tags, "c"]', ['a', 'b', 'c']],
    ['{ a: 1, "b": 2, 3: 4, ["c" + 1]: 5 }', { a: 1, b: 2, 3: 4, c1: 5 }],
    ['/^\\s*ada@/i.test(record.email)', true],
    ['record.email.replace(/\\s+/g, "")', 'Ada@Example.COM'],
    ['JSON.stringify({ n: record.a })', '{"n":1}'],
    ['JSON.parse("[1,2]")', [1, 2]],
    ['Number("42") + parseInt("8", 10) + parseFloat("0.5")', 50.5],
    ['String(record.a).padStart(3, "0")', '001'],
    ['Boolean(record.nothing)', false],
    ['isNaN(Number("x")) && isFinite(1) && !isFinite(Infinity) && isNaN(NaN)', true],
    ['Number.isInteger(record.a) && Number.MAX_SAFE_INTEGER > 0', true],
    ['Array.isArray(record.tags)', true],
    ['Array.from({ length: 3 }, (_, i) => i * 2)', [0, 2, 4]],
    ['Array.of(1, 2)', [1, 2]],
    ['Object.keys(record.nested)', ['deep']],
    ['Object.values({ a: 1, b: 2 })', [1, 2]],
    ['Object.entries({ a: 1 })', [['a', 1]]],
    ['Object.fromEntries(Object.entries({ a: 1 }).map(e => [e[0].toUpperCase(), e[1] * 10]))', { A: 10 }],
    ['Date.parse("1970-01-01T00:00:01Z")', 1000],
    ['typeof Date.now()', 'number'],
    ['Date.UTC(1970, 0, 1)', 0],
    ['encodeURIComponent("a b&c")', 'a%20b%26c'],
    ['decodeURIComponent("a%20b")', 'a b'],
    ['record.missing === undefined', true],
    ['new Date(0) instanceof Date', true],
    ['record.tags instanceof Array && record.nested instanceof Object', true],
    ['record.items.map(record => record.sku).join()', 'S1,S2,S3'],
    ['record.items.map($$key => $$key.qty)', [2, 0, 5]],
    ['record.tags.map(t => t.toUpperCase())', ['A', 'B']],
    ['record.tags.map(String).filter(Boolean).map(Number)', [NaN, NaN]],
    ['(a => b => a + b)(1)(2)', 3],
    ['10n ** 2n', 100n],
    ['1..toFixed(1) + (2).toFixed(1)', '1.02.0'],
    ['`a${`b${record.a}`}c`', 'ab1c'],
    ['record.email /* a comment */ .length // and another', 18],
    ['  record.a  ', 1],
    ['(record.a)', 1],
  ])('%s', (source, expected) => {
    expect(checkExpression(source)).toBeUndefined();
    expect(run(source)).toEqual(expected);
  });

  it('spreads the record into a new object', () => {
    const out = run("{ ...record, full: record.first + ' ' + record.last }") as Record<string, unknown>;
    expect(out.full).toBe('Ada Lovelace');
    expect(out.email).toBe(record.email);
    expect(out).not.toBe(record);
  });

  it('keeps `this` for method calls through optional chains and parentheses', () => {
    const rec = { s: 'abc', o: { n: 2, f(this: { n: number }) { return this.n; } } };
    expect(run('record.s?.toUpperCase()', rec)).toBe('ABC');
    expect(run('(record.o.f)()', rec)).toBe(2);
    expect(run('record.o?.f()', rec)).toBe(2);
    expect(run('record.o.g?.()', rec)).toBeUndefined();
  });

  it('lets a runtime TypeError from the expression propagate', () => {
    expect(() => run('record.missing.trim()')).toThrow(TypeError);
  });

  it('binds env as a frozen copy taken at compile time', () => {
    const env: Record<string, string | undefined> = { REGION: 'eu' };
    const compiled = compileExpression('env', { env, job: { name: 'j' } });
    env.REGION = 'us';
    const seen = compiled.evaluate({}) as Record<string, unknown>;
    expect(seen.REGION).toBe('eu');
    expect(Object.isFrozen(seen)).toBe(true);
    expect(Object.isFrozen(compileExpression('job', scope).evaluate({}))).toBe(true);
  });

  it('exposes wrapped helpers, never the real Object, Array or Date', () => {
    const rec = { k: 'getPrototypeOf', d: 'defineProperty' };
    expect(run('Object[record.k]', rec)).toBeUndefined();
    expect(run('Object[record.d]', rec)).toBeUndefined();
    expect(run('Array[record.k]', rec)).toBeUndefined();
    expect(run('Object') === Object).toBe(false);
    expect(run('Array') === Array).toBe(false);
    expect(run('Date') === Date).toBe(false);
    expect(Object.isFrozen(run('Math'))).toBe(true);
  });

  it('returns a compiled object with the source and a plain evaluate function', () => {
    const compiled = compileExpression('record.a + 1', scope);
    expect(compiled.source).toBe('record.a + 1');
    expect(typeof compiled.evaluate).toBe('function');
    expect(compiled.evaluate({ a: 41 })).toBe(42);
  });
});

describe('escapes are rejected at check time', () => {
  it.each<[string, string, number]>([
    ['record.constructor.constructor("return process")()', "access to 'constructor' is not allowed", 7],
    ['record["constructor"]["constructor"]("return this")()', "access to 'constructor' is not allowed", 7],
    ['globalThis', "'globalThis' is not allowed in expressions", 0],
    ['this', '`this` is not allowed in expressions', 0],
    ['import("fs")', '`import()` is not allowed', 0],
    ['process.exit()', "'process' is not defined", 0],
    ['(() => this)()', '`this` is not allowed in expressions', 7],
    ['Function("return 1")()', "'Function' is not allowed in expressions", 0],
    ['record.__proto__', "access to '__proto__' is not allowed", 7],
    ['record[`constructor`]', "access to 'constructor' is not allowed", 7],
    ['record?.constructor', "access to 'constructor' is not allowed", 8],
    ['record.\\u0063onstructor', "access to 'constructor' is not allowed", 7],
    ['record["\\u0063onstructor"]', "access to 'constructor' is not allowed", 7],
    ['record[("constructor")]', "access to 'constructor' is not allowed", 7],
    ['record.tags.map(t => t.constructor)', "access to 'constructor' is not allowed", 23],
    ['(x => x).prototype', "access to 'prototype' is not allowed", 9],
    ['record.a.__defineGetter__', "access to '__defineGetter__' is not allowed", 9],
    ['record.a.__defineSetter__', "access to '__defineSetter__' is not allowed", 9],
    ['record.a.__lookupGetter__', "access to '__lookupGetter__' is not allowed", 9],
    ['record.a.__lookupSetter__', "access to '__lookupSetter__' is not allowed", 9],
    ['record.f.caller', "access to 'caller' is not allowed", 9],
    ['record.f.callee', "access to 'callee' is not allowed", 9],
    ['record.f.arguments', "access to 'arguments' is not allowed", 9],
    ['Math.max.constructor', "access to 'constructor' is not allowed", 9],
    ['global', "'global' is not allowed in expressions", 0],
    ['window.location', "'window' is not allowed in expressions", 0],
    ['eval("1")', "'eval' is not allowed in expressions", 0],
    ['require("fs")', "'require' is not defined", 0],
    ['module.exports', "'module' is not defined", 0],
    ['import.meta.url', '`import.meta` is not allowed', 0],
    ['Object.getPrototypeOf(record)', "'Object.getPrototypeOf' is not available", 7],
    ['Object.assign({}, record)', "'Object.assign' is not available", 7],
    ['Object.defineProperty(record, "a", {})', "'Object.defineProperty' is not available", 7],
    ['Object["getPrototypeOf"]', "'Object.getPrototypeOf' is not available", 7],
    ['Reflect.ownKeys(record)', "'Reflect' is not defined", 0],
  ])('%s', (source, fragment, offset) => {
    const error = rejection(source);
    expect(error.message).toContain(fragment);
    expect(error.offset).toBe(offset);
    expect(() => compileExpression(source, scope)).toThrow(ExpressionError);
  });

  it('never runs the rejected code', () => {
    const g = globalThis as { sluicePwned?: boolean };
    delete g.sluicePwned;
    for (const source of [
      'record.constructor.constructor("globalThis.sluicePwned = true")()',
      'record["constructor"]["constructor"]("globalThis.sluicePwned = true")()',
      'Function("globalThis.sluicePwned = true")()',
    ]) {
      expect(checkExpression(source)).toBeInstanceOf(ExpressionError);
      expect(() => compileExpression(source, scope)).toThrow(ExpressionError);
    }
    expect(g.sluicePwned).toBeUndefined();
  });
});

describe('other constructs outside the allow-list', () => {
  it.each<[string, string, number]>([
    ['record.a = 1', 'assignment (`=`) is not allowed', 0],
    ['record.a += 1', 'assignment (`+=`) is not allowed', 0],
    ['record.a ??= 1', 'assignment (`??=`) is not allowed', 0],
    ['record.a++', '`++` is not allowed', 0],
    ['--record.a', '`--` is not allowed', 0],
    ['delete record.a', '`delete` is not allowed', 0],
    ['record.a, record.b', 'the comma operator is not allowed', 0],
    ['new Map()', '`new` is only allowed with Date', 0],
    ['new record.Date()', '`new` is only allowed with Date', 0],
    ['record.xs.map(Date => new Date())', '`new` is only allowed with Date', 22],
    ['String.raw`x`', 'tagged templates are not allowed', 0],
    ['(function () { return 1 })', 'function expressions are not allowed', 1],
    ['(class {})', 'classes are not allowed', 1],
    ['await record.p', '`await` is not allowed', 0],
    ['x => { return x }', 'arrow functions must have an expression body', 5],
    ['async x => x', 'async functions are not allowed', 0],
    ['(({ a }) => a)', 'arrow function parameters must be plain names', 2],
    ['((a = 1) => a)', 'arrow function parameters must be plain names', 2],
    ['((...a) => a)', 'arrow function parameters must be plain names', 2],
    ['({ get x() { return 1 } })', 'getters and setters are not allowed', 3],
    ['({ f() { return 1 } })', 'methods are not allowed in object literals', 3],
    ['({ __proto__: null })', "'__proto__' key is not allowed", 3],
    ['({ "__proto__": null })', "'__proto__' key is not allowed", 3],
    ['amount > 10', "'amount' is not defined; to read a field write record.amount", 0],
    ['recrod.amount', "did you mean 'record'?", 0],
    ['record.a + foo', "'foo' is not defined", 11],
    ['Math.rnd()', "'Math.rnd' is not available", 5],
    ['Array(3)', "'Array' cannot be called", 0],
    ['Date()', 'Date must be called with `new`', 0],
    ['record()', "'record' is not a function", 0],
    ['/(?<a>x)(?<a>y)/', 'invalid regular expression', 1],
  ])('%s', (source, fragment, offset) => {
    const error = rejection(source);
    expect(error.message).toContain(fragment);
    expect(error.offset).toBe(offset);
  });

  it('lists what is available when a name is unknown', () => {
    expect(rejection('process.env.HOME').message).toMatch(
      /^'process' is not defined.*expressions can use record, env, job and the helpers Math, JSON, /,
    );
  });
});

describe('syntax errors', () => {
  it.each<[string, string, number]>([
    ['record.a +', 'unexpected token', 10],
    ['record.', 'unexpected token', 7],
    ['record.a record.b', "unexpected 'record' after the end of the expression", 9],
    ['record.a;', "unexpected ';' after the end of the expression", 8],
    ['record.a )', "unexpected ')' after the end of the expression", 9],
    ['"abc', 'unterminated string constant', 0],
    ['', 'the expression is empty', 0],
    ['   ', 'the expression is empty', 0],
    ['010', 'invalid number', 0],
  ])('%s', (source, fragment, offset) => {
    const error = rejection(source);
    expect(error.message).toContain(fragment);
    expect(error.message).not.toMatch(/\(\d+:\d+\)$/);
    expect(error.message[0]).toBe(error.message[0]!.toLowerCase());
    expect(error.offset).toBe(offset);
  });
});

describe('computed member keys are guarded at run time', () => {
  it.each(['constructor', '__proto__', 'prototype', '__defineGetter__', 'caller', 'arguments'])(
    'record[record.k] with k = %s throws',
    (name) => {
      const compiled = compileExpression('record[record.k]', scope);
      expect(() => compiled.evaluate({ k: name })).toThrow(`access to '${name}' is not allowed`);
    },
  );

  it('reports the offset of the key', () => {
    const compiled = compileExpression('record.tags[record.k]', scope);
    try {
      compiled.evaluate({ tags: [], k: 'constructor' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ExpressionError);
      expect((error as ExpressionError).offset).toBe(12);
    }
  });

  it('converts the key once, like JavaScript would, before checking it', () => {
    expect(() => run('record[{ toString: () => "constructor" }]', {})).toThrow("access to 'constructor' is not allowed");
    expect(() => run('record[["__proto__"]]', {})).toThrow("access to '__proto__' is not allowed");
    expect(() => run('record[`${"constr"}uctor`]', {})).toThrow("access to 'constructor' is not allowed");
    expect(() => run('record.tags.map(t => record[t])', { tags: ['a', 'constructor'] })).toThrow(
      "access to 'constructor' is not allowed",
    );
  });

  it('allows ordinary keys and keeps optional chaining semantics', () => {
    expect(run('record[record.k]', { k: 'a', a: 1 })).toBe(1);
    expect(run('record.tags[record.i]', { tags: ['x', 'y'], i: 1 })).toBe('y');
    expect(run('record.o?.[record.k]', { k: 'constructor' })).toBeUndefined();
    expect(run('record.o?.[record.k].deep.deeper', { k: 'constructor' })).toBeUndefined();
    expect(run('record.o?.[record.k].v', { o: { a: { v: 3 } }, k: 'a' })).toBe(3);
    expect(() => run('record.o?.[record.k]', { o: {}, k: 'constructor' })).toThrow("access to 'constructor'");
  });
});

describe('templates', () => {
  const render = (source: string, rec: Record<string, unknown>) => compileTemplate(source, scope).render(rec);

  it.each<[string, Record<string, unknown>, string]>([
    ['https://geo/v1/{{ record.ip }}?x={{ record.a + 1 }}', { ip: '1.2.3.4', a: 1 }, 'https://geo/v1/1.2.3.4?x=2'],
    ['plain text', {}, 'plain text'],
    ['', {}, ''],
    ['{{ record.a }}', { a: 5 }, '5'],
    ['[{{ record.none }}|{{ record.nil }}]', { nil: null }, '[|]'],
    ['{{ record.o }} {{ record.list }}', { o: { a: 1 }, list: [1, 'x'] }, '{"a":1} [1,"x"]'],
    ['{{ record.flag }} {{ record.n }}', { flag: false, n: 0 }, 'false 0'],
    ['{{ "}}" }}!', {}, '}}!'],
    ['{{ { a: { b: 1 } }.a.b }}', {}, '1'],
    ['{{record.a}}{{record.b}}', { a: 'x', b: 'y' }, 'xy'],
    ['{{ env.REGION }}/{{ job.name }}', {}, 'eu-west-1/geo-enrich'],
    ['{{ new Date(0) }}', {}, '1970-01-01T00:00:00.000Z'],
    ['{{ `${record.a}}` }}', { a: 1 }, '1}'],
    ['a } b }} c', {}, 'a } b }} c'],
  ])('%s', (source, rec, expected) => {
    expect(checkTemplate(source)).toBeUndefined();
    expect(render(source, rec)).toBe(expected);
  });

  it.each<[string, string, number]>([
    ['https://geo/v1/{{ record.ip }}?x={{ process.exit() }}', "'process' is not defined", 36],
    ['a {{ record.a }} b {{ record.constructor }}', "access to 'constructor' is not allowed", 29],
    ['a {{ record.a }} b {{ record. }}', 'unexpected token', 30],
    ['a {{ record.a', 'unclosed `{{`', 2],
    ['a {{ record.a }} b {{ record.b', 'unclosed `{{`', 19],
    ['a {{ record.a } b', 'unclosed `{{`', 2],
    ['x {{ }}', 'empty `{{ }}`', 2],
    ['{{ record.a }x}}', "unexpected '}'", 12],
    ['{{ record.a record.b }}', "unexpected 'record'", 12],
    ['{{ this }}', '`this` is not allowed', 3],
  ])('rejects %s', (source, fragment, offset) => {
    const error = checkTemplate(source);
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error!.message).toContain(fragment);
    expect(error!.offset).toBe(offset);
    expect(() => compileTemplate(source, scope)).toThrow(ExpressionError);
  });

  it('guards computed keys at run time with offsets into the template', () => {
    const template = compileTemplate('id={{ record[record.k] }}', scope);
    expect(template.source).toBe('id={{ record[record.k] }}');
    try {
      template.render({ k: '__proto__' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ExpressionError);
      expect((error as ExpressionError).offset).toBe(13);
    }
  });
});

describe('compiled once', () => {
  it('evaluates a compiled expression a million times as a plain function call', () => {
    const { evaluate } = compileExpression('record.a > 1', scope);
    const records = [{ a: 0 }, { a: 2 }];
    let count = 0;
    for (let i = 0; i < 1_000_000; i++) if (evaluate(records[i & 1]!)) count++;
    expect(count).toBe(500_000);
  });

  it('renders a compiled template many times', () => {
    const { render } = compileTemplate('/v1/{{ record.id }}', scope);
    let last = '';
    for (let i = 0; i < 100_000; i++) last = render({ id: i });
    expect(last).toBe('/v1/99999');
  });
});
