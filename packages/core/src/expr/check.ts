// The allow-list: walks a parsed expression and rejects anything outside it. Never runs anything.
import type { AnyNode, Expression, Literal, MemberExpression, Property, SpreadElement, TemplateLiteral } from 'acorn';
import { ExpressionError } from './errors.js';
import { AVAILABLE_NAMES, FORBIDDEN_MEMBERS, GLOBALS, forbiddenMemberMessage } from './scope.js';
import { checkMethodCall } from './calls.js';
import { lowerFirst } from './parse.js';
import { compilePattern, RegexSyntaxError, runsOnV8 } from './regex.js';

/** Arrow-function parameters visible at a point of the expression. */
export type Params = ReadonlySet<string>;

const CHANGES = 'expressions cannot change values';

/** The expression inside any number of parentheses. */
export function unwrap(node: AnyNode): AnyNode {
  while (node.type === 'ParenthesizedExpression') node = node.expression;
  return node;
}

/** The key of a member or property when it is written literally (`.x`, `["x"]`, `` [`x`] ``, `[0]`). */
export function literalKey(node: AnyNode, computed: boolean): string | undefined {
  node = unwrap(node);
  if (!computed) {
    if (node.type === 'Identifier') return node.name;
    if (node.type === 'Literal') return String(node.value);
    return undefined;
  }
  if (node.type === 'Literal') return node.regex ? undefined : String(node.value);
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0]?.value.cooked ?? undefined;
  return undefined;
}

/** A global name when `node` is an identifier that resolves to one (not shadowed by a parameter). */
export function globalName(node: AnyNode, params: Params): string | undefined {
  node = unwrap(node);
  return node.type === 'Identifier' && !params.has(node.name) && GLOBALS.has(node.name) ? node.name : undefined;
}

/** Checks an expression; throws ExpressionError at the first construct outside the allow-list. */
export function checkNode(node: Expression, params: Params = new Set()): void {
  new Checker().expression(node, params);
}

class Checker {
  expression(node: AnyNode, params: Params): void {
    switch (node.type) {
      case 'Identifier':
        return this.identifier(node.name, node.start, params);
      case 'Literal':
        return this.literal(node);
      case 'TemplateLiteral':
        return this.template(node, params);
      case 'MemberExpression':
        return this.member(node, params);
      case 'ChainExpression':
        return this.expression(node.expression, params);
      case 'CallExpression': {
        if (node.callee.type === 'Super') throw fail('`super` is not allowed in expressions', node.callee);
        const name = globalName(node.callee, params);
        const info = name === undefined ? undefined : GLOBALS.get(name);
        if (info && !info.callable) throw fail(info.notCallable ?? `'${name}' is not a function`, node.callee);
        checkMethodCall(node, params);
        this.expression(node.callee, params);
        return this.list(node.arguments, params);
      }
      case 'NewExpression':
        if (globalName(node.callee, params) !== 'Date') {
          throw fail('`new` is only allowed with Date, as in new Date(record.ts); expressions cannot create other objects this way', node);
        }
        return this.list(node.arguments, params);
      case 'UnaryExpression':
        if (node.operator === 'delete') throw fail(`\`delete\` is not allowed in expressions; ${CHANGES}`, node);
        return this.expression(node.argument, params);
      case 'BinaryExpression':
        this.expression(node.left, params);
        return this.expression(node.right, params);
      case 'LogicalExpression':
        this.expression(node.left, params);
        return this.expression(node.right, params);
      case 'ConditionalExpression':
        this.expression(node.test, params);
        this.expression(node.consequent, params);
        return this.expression(node.alternate, params);
      case 'ArrayExpression':
        for (const element of node.elements) if (element) this.expression(element, params);
        return;
      case 'ObjectExpression':
        for (const property of node.properties) this.property(property, params);
        return;
      case 'SpreadElement':
        return this.expression(node.argument, params);
      case 'ArrowFunctionExpression': {
        if (node.async) throw fail('async functions are not allowed in expressions; expressions are synchronous', node);
        if (node.body.type === 'BlockStatement' || !node.expression) {
          throw fail(
            'arrow functions must have an expression body, not a block `{ … }` (to return an object write x => ({ … }))',
            node.body,
          );
        }
        const inner = new Set(params);
        for (const param of node.params) {
          if (param.type !== 'Identifier') {
            throw fail('arrow function parameters must be plain names (no destructuring, defaults or rest)', param);
          }
          inner.add(param.name);
        }
        return this.expression(node.body, inner);
      }

      // ---------- rejected, with the reason ----------
      case 'ThisExpression':
        throw fail('`this` is not allowed in expressions; use record to read the current record', node);
      case 'Super':
        throw fail('`super` is not allowed in expressions', node);
      case 'AssignmentExpression':
        throw fail(
          `assignment (\`${node.operator}\`) is not allowed in expressions; ${CHANGES}` +
            (node.operator === '=' ? ' (to compare, use ===)' : ''),
          node,
        );
      case 'UpdateExpression':
        throw fail(`\`${node.operator}\` is not allowed in expressions; ${CHANGES}`, node);
      case 'SequenceExpression':
        throw fail('the comma operator is not allowed; an expression computes a single value', node);
      case 'TaggedTemplateExpression':
        throw fail('tagged templates are not allowed in expressions; they call a function with raw strings', node);
      case 'FunctionExpression':
        throw fail('function expressions are not allowed; use an arrow function with an expression body, e.g. x => x * 2', node);
      case 'ClassExpression':
        throw fail('classes are not allowed in expressions', node);
      case 'AwaitExpression':
        throw fail('`await` is not allowed in expressions; expressions are synchronous', node);
      case 'YieldExpression':
        throw fail('`yield` is not allowed in expressions', node);
      case 'ImportExpression':
        throw fail('`import()` is not allowed in expressions; expressions cannot load modules', node);
      case 'MetaProperty':
        throw fail(`\`${node.meta.name}.${node.property.name}\` is not allowed in expressions`, node);
      case 'ParenthesizedExpression':
        return this.expression(node.expression, params);
      default:
        throw fail(`${describe(node.type)} is not allowed in expressions`, node);
    }
  }

  private list(nodes: Array<Expression | SpreadElement>, params: Params): void {
    for (const node of nodes) this.expression(node, params);
  }

  private identifier(name: string, start: number, params: Params): void {
    if (params.has(name) || GLOBALS.has(name)) return;
    throw new ExpressionError(unknownIdentifier(name, params), start);
  }

  private literal(node: Literal): void {
    if (!node.regex) return;
    try {
      new RegExp(node.regex.pattern, node.regex.flags);
    } catch (error) {
      throw fail(lowerFirst((error as Error).message), node);
    }
    if (runsOnV8(node.regex.pattern, node.regex.flags)) return;
    try {
      compilePattern(node.regex.pattern, node.regex.flags);
    } catch (error) {
      if (error instanceof RegexSyntaxError) throw fail(error.message, node);
      throw error;
    }
  }

  private template(node: TemplateLiteral, params: Params): void {
    for (const expression of node.expressions) this.expression(expression, params);
  }

  private member(node: MemberExpression, params: Params): void {
    if (node.object.type === 'Super') throw fail('`super` is not allowed in expressions', node.object);
    this.expression(node.object, params);
    const key = literalKey(node.property, node.computed);
    if (key !== undefined && FORBIDDEN_MEMBERS.has(key)) throw fail(forbiddenMemberMessage(key), node.property);
    const owner = globalName(node.object, params);
    const members = owner === undefined ? undefined : GLOBALS.get(owner)?.members;
    if (members && key !== undefined && !members.has(key)) {
      const list = members.size === 0 ? '' : members.size <= 8 ? `; ${owner} provides ${[...members].join(', ')}` : '';
      throw fail(`'${owner}.${key}' is not available in expressions${list}`, node.property);
    }
    if (node.computed) this.expression(node.property, params);
  }

  private property(node: Property | SpreadElement, params: Params): void {
    if (node.type === 'SpreadElement') return this.expression(node.argument, params);
    if (node.kind !== 'init') throw fail('getters and setters are not allowed in object literals', node);
    if (node.method) throw fail('methods are not allowed in object literals; use an arrow function: name: (x) => …', node);
    if (literalKey(node.key, node.computed) === '__proto__') {
      throw fail("a '__proto__' key is not allowed in object literals: it would change the object's prototype", node.key);
    }
    if (node.computed) this.expression(node.key, params);
    this.expression(node.value, params);
  }
}

function fail(message: string, node: { start: number }): ExpressionError {
  return new ExpressionError(message, node.start);
}

/** "ClassExpression" → "class expression". */
function describe(type: string): string {
  return type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

const GLOBAL_OBJECT = new Set(['globalThis', 'global', 'window', 'self', 'frames', 'top', 'parent']);
const RUNS_CODE = new Set(['Function', 'eval', 'AsyncFunction', 'GeneratorFunction']);
const HOST_NAMES = new Set(['require', 'module', 'exports', '__dirname', '__filename', 'arguments']);

function unknownIdentifier(name: string, params: Params): string {
  if (GLOBAL_OBJECT.has(name)) return `'${name}' is not allowed in expressions: it would expose the global object`;
  if (RUNS_CODE.has(name)) return `'${name}' is not allowed in expressions: it would run arbitrary code`;
  const available = `expressions can use ${AVAILABLE_NAMES}`;
  if (name === 'process') return `'process' is not defined (read environment variables with env.NAME); ${available}`;
  if (HOST_NAMES.has(name) || name in globalThis) return `'${name}' is not defined; ${available}`;
  const suggestion = closest(name, [...params, ...GLOBALS.keys()]);
  if (suggestion) return `'${name}' is not defined (did you mean '${suggestion}'?); ${available}`;
  return `'${name}' is not defined; to read a field write record.${name}; ${available}`;
}

/** The closest known name within a small edit distance, if any (case-only differences count as close). */
function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = name.length <= 4 ? 1 : 2;
  for (const candidate of candidates) {
    const d = candidate.toLowerCase() === name.toLowerCase() ? 0 : distance(name, candidate);
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
