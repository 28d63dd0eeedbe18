// Which method calls an expression may make. Expressions must not change values — a `where` that
// empties `record.tags` would change what flows on — and assignment is rejected by the checker;
// these rules close the other doors: methods that change their receiver, calling a method by a
// computed name, and the ways of running a method on another value (`call`, `apply`, `bind`,
// `thisArg`, JSON's reviver and replacer). Without those, a method taken as a value can only run
// with `this` undefined, which every built-in refuses.
import type { CallExpression, Expression, SpreadElement } from 'acorn';
import { ExpressionError } from './errors.js';
import type { Params } from './check.js';
import { globalName, literalKey, unwrap } from './check.js';

const COPY_INSTEAD: Readonly<Record<string, string>> = {
  sort: 'use toSorted(), which returns a sorted copy',
  reverse: 'use toReversed(), which returns a reversed copy',
  splice: 'use toSpliced() or slice(), which return a copy',
  push: 'use [...list, value] or concat()',
  unshift: 'use [value, ...list]',
  pop: 'use list.at(-1) or slice(0, -1)',
  shift: 'use list[0] or slice(1)',
  fill: 'use Array.from({ length: n }, () => value)',
  copyWithin: 'build a new array with slice() and concat()',
};

const DATE_SETTERS = ['Date', 'FullYear', 'Hours', 'Milliseconds', 'Minutes', 'Month', 'Seconds', 'Time', 'Year'].flatMap((part) => [
  `set${part}`,
  ...(part === 'Time' || part === 'Year' ? [] : [`setUTC${part}`]),
]);

/** Methods that change the value they are called on. */
export const MUTATING_METHODS: ReadonlySet<string> = new Set([...Object.keys(COPY_INSTEAD), 'set', 'add', 'delete', 'clear', ...DATE_SETTERS]);

/** Methods whose last argument sets `this` for the callback. */
const THIS_ARG_METHODS = new Set(['map', 'filter', 'forEach', 'some', 'every', 'find', 'findIndex', 'findLast', 'findLastIndex', 'flatMap']);

const RUN_ON_ANOTHER = new Set(['call', 'apply', 'bind']);

/** Throws ExpressionError when a call is one an expression may not make. */
export function checkMethodCall(node: CallExpression, params: Params): void {
  const callee = unwrap(node.callee);
  if (callee.type !== 'MemberExpression') return;
  const name = literalKey(callee.property, callee.computed);
  if (name === undefined) {
    throw new ExpressionError('a method cannot be called by a computed name (x[key](…)); call it by its name, as in x.trim()', callee.property.start);
  }
  const at = callee.property.start;
  if (MUTATING_METHODS.has(name)) {
    const instead = COPY_INSTEAD[name] ?? (name.startsWith('set') ? 'make a new one: new Date(…)' : 'build a new value instead');
    throw new ExpressionError(`'${name}' changes the value it is called on; expressions cannot change values (${instead})`, at);
  }
  if (RUN_ON_ANOTHER.has(name)) {
    throw new ExpressionError(`'.${name}' is not allowed in expressions: it runs a function on another value; call methods directly`, at);
  }
  if (THIS_ARG_METHODS.has(name) && (node.arguments.length > 1 || node.arguments.some((a) => a.type === 'SpreadElement'))) {
    const second = node.arguments[1] ?? node.arguments[0]!;
    throw new ExpressionError(`the second argument of ${name} (thisArg) is not allowed in expressions; use an arrow function`, second.start);
  }
  if (globalName(callee.object, params) === 'JSON') checkJsonCall(name, node.arguments);
}

function checkJsonCall(name: string, args: Array<Expression | SpreadElement>): void {
  const second = args[1] === undefined ? undefined : unwrap(args[1]);
  if (second === undefined || args.some((a) => a.type === 'SpreadElement')) {
    if (args.some((a) => a.type === 'SpreadElement')) throw new ExpressionError(`JSON.${name} cannot take spread arguments`, args[0]!.start);
    return;
  }
  if (name === 'parse') throw new ExpressionError('JSON.parse with a reviver is not allowed in expressions; transform the parsed value instead', second.start);
  const plain =
    (second.type === 'Literal' && second.value === null) || (second.type === 'Identifier' && second.name === 'undefined') || second.type === 'ArrayExpression';
  if (name === 'stringify' && !plain) {
    throw new ExpressionError('the replacer of JSON.stringify may only be null or a list of keys, as in JSON.stringify(x, null, 2)', second.start);
  }
}
