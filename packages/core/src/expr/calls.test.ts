import { describe, expect, it } from 'vitest';
import { checkExpression, compileExpression, ExpressionError } from './index.js';

const scope = { env: {}, job: { name: 'calls' } };

describe('expressions cannot change the record', () => {
  it.each<[string, string, number]>([
    ['record.tags.splice(0)', "'splice' changes the value it is called on; expressions cannot change values (use toSpliced()", 12],
    ["[].push.call(record, 'x')", "'.call' is not allowed in expressions", 8],
    ["record.tags.push('x')", "'push' changes the value", 12],
    ['record.tags.sort().join()', 'use toSorted(), which returns a sorted copy', 12],
    ['record.tags.reverse()[0]', 'use toReversed()', 12],
    ['record.tags.pop()', "'pop' changes", 12],
    ['record.tags.shift()', "'shift' changes", 12],
    ["record.tags.unshift('x')", "'unshift' changes", 12],
    ['record.tags.fill(0)', 'Array.from({ length: n }, () => value)', 12],
    ['record.tags.copyWithin(0, 1)', "'copyWithin' changes", 12],
    ['record.created.setFullYear(2000)', 'new Date(…)', 15],
    ["record.m.set('k', 1)", "'set' changes", 9],
    ['record.tags["sort"]()', "'sort' changes", 12],
    ['(record.tags.sort)()', "'sort' changes", 13],
    ['record.tags?.sort()', "'sort' changes", 13],
    ['record.tags[record.k]()', 'a method cannot be called by a computed name', 12],
    ['[].push.apply(record.tags, [1])', "'.apply' is not allowed", 8],
    ['[].push.bind(record.tags)(1)', "'.bind' is not allowed", 8],
    ['record.list.forEach([].push, record.tags)', 'the second argument of forEach (thisArg) is not allowed', 29],
    ['record.list.map(f => f, record.tags)', 'the second argument of map (thisArg)', 24],
    ['record.list.some(...record.args)', 'the second argument of some (thisArg)', 17],
    ['JSON.stringify(record, [].push)', 'the replacer of JSON.stringify may only be null or a list of keys', 23],
    ['JSON.parse(record.s, [].push)', 'JSON.parse with a reviver is not allowed', 21],
  ])('refuses %s', (source, message, offset) => {
    const error = checkExpression(source);
    expect(error).toBeInstanceOf(ExpressionError);
    expect(error!.message).toContain(message);
    expect(error!.offset).toBe(offset);
    expect(() => compileExpression(source, scope)).toThrow(ExpressionError);
  });

  it.each<[string, unknown]>([
    ['record.tags.toSorted().join()', 'a,b,c'],
    ['record.tags.toReversed()[0]', 'b'],
    ['[...record.tags, "x"].length', 4],
    ['record.tags.toSpliced(0, 1)', ['c', 'b']],
    ['JSON.stringify(record.o, null, 2)', '{\n  "k": 1\n}'],
    ['JSON.stringify(record.o, ["k"])', '{"k":1}'],
    ['record.tags.map(String)', ['a', 'c', 'b']],
    ['record.tags["at"](-1)', 'b'],
    ['[x => x + 1][0](1)', 2],
  ])('keeps the ways that copy: %s', (source, expected) => {
    const record = { tags: ['a', 'c', 'b'], o: { k: 1 } };
    const before = structuredClone(record);
    expect(compileExpression(source, scope).evaluate(record)).toEqual(expected);
    expect(record).toEqual(before);
  });

  it('cannot run a method taken as a value on the record: built-ins refuse an undefined this', () => {
    const record = { tags: ['a'], list: [1, 2] };
    expect(() => compileExpression('record.list.map([].push)', scope).evaluate(record)).toThrow(TypeError);
    expect(() => compileExpression("Array.from(record.list, ''.repeat)", scope).evaluate(record)).toThrow(TypeError);
    expect(record).toEqual({ tags: ['a'], list: [1, 2] });
  });
});
