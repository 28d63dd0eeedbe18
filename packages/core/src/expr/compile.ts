// Code generation: turns a checked expression into JavaScript source, built once with `new Function`.
import type { AnyNode, CallExpression, MemberExpression } from 'acorn';
import { ExpressionError } from './errors.js';
import { globalName, literalKey, unwrap, type Params } from './check.js';
import { EXPRESSION_LIMITS, GUARDED_CALLS } from './guards.js';
import { compilePattern, runsOnV8, type LinearPattern } from './regex.js';
import { FORBIDDEN_MEMBERS, GLOBALS, RUNTIME, scopeValues } from './scope.js';

/** Arrow parameters are renamed so they can never collide with the generated code's own names. */
const paramName = (name: string) => `$p_${name}`;

/** What generated code needs besides its text: the patterns of its regex literals, and whether it uses the watch. */
export class Generated {
  readonly patterns: LinearPattern[] = [];
  /** Set when the code ticks the watch or calls a guarded helper: each evaluation must begin it. */
  watched = false;
}

/** JavaScript source for a checked expression. Every compound expression comes out parenthesized. */
export function generate(node: AnyNode, params: Params = new Set(), out = new Generated()): string {
  const gen = (n: AnyNode, p: Params = params) => generate(n, p, out);
  switch (node.type) {
    case 'Identifier':
      if (params.has(node.name)) return paramName(node.name);
      if (node.name === 'Array') out.watched = true;
      if (GLOBALS.has(node.name)) return node.name;
      break;
    case 'Literal':
      if (node.regex && !runsOnV8(node.regex.pattern, node.regex.flags)) {
        // Each evaluation gets a fresh object, as a RegExp literal would (its lastIndex is its own).
        out.patterns.push(compilePattern(node.regex.pattern, node.regex.flags));
        return `(new $$Linear($$patterns[${out.patterns.length - 1}]))`;
      }
      return node.raw ?? JSON.stringify(node.value);
    case 'TemplateLiteral': {
      let text = '`';
      node.quasis.forEach((quasi, i) => {
        text += quasi.value.raw;
        const expression = node.expressions[i];
        if (expression) text += '${' + gen(expression) + '}';
      });
      return text + '`';
    }
    case 'MemberExpression': {
      if (node.object.type === 'Super' || node.property.type === 'PrivateIdentifier') break;
      const object = operand(node.object, params, out);
      const literal = literalKey(node.property, node.computed);
      if (literal !== undefined && FORBIDDEN_MEMBERS.has(literal)) break;
      if (!node.computed) {
        if (node.property.type !== 'Identifier') break;
        return `${object}${node.optional ? '?.' : '.'}${node.property.name}`;
      }
      return `${object}${node.optional ? '?.' : ''}[${memberKey(node, params, out)}]`;
    }
    case 'ChainExpression':
      if (hasGuardedCall(node.expression)) {
        out.watched = true;
        return `$$c.end(${link(node.expression, params, out)})`;
      }
      return `(${gen(node.expression)})`;
    case 'CallExpression': {
      if (node.callee.type === 'Super') break;
      const guarded = guardedCall(node);
      if (guarded) {
        out.watched = true;
        const callee = unwrap(node.callee) as MemberExpression;
        const args = list(node.arguments, params, out);
        return `$$g.${guarded}(${operand(callee.object, params, out)}${args ? `, ${args}` : ''})`;
      }
      return `${operand(node.callee, params, out)}${node.optional ? '?.' : ''}(${list(node.arguments, params, out)})`;
    }
    case 'NewExpression':
      if (globalName(node.callee, params) !== 'Date') break;
      return `(new $$Date(${list(node.arguments, params, out)}))`;
    case 'UnaryExpression':
      if (node.operator === 'delete') break;
      return `(${node.operator} ${gen(node.argument)})`;
    case 'BinaryExpression':
      if (node.left.type === 'PrivateIdentifier') break;
      return `(${gen(node.left)} ${node.operator} ${gen(node.right)})`;
    case 'LogicalExpression':
      return `(${gen(node.left)} ${node.operator} ${gen(node.right)})`;
    case 'ConditionalExpression':
      return `(${gen(node.test)} ? ${gen(node.consequent)} : ${gen(node.alternate)})`;
    case 'ArrayExpression': {
      const elements = node.elements.map((e) => (e ? gen(e) : ''));
      // A trailing hole needs its own comma: [a, ,] has length 2.
      return `[${elements.join(', ')}${node.elements.length > 0 && node.elements.at(-1) === null ? ',' : ''}]`;
    }
    case 'ObjectExpression': {
      const properties = node.properties.map((p) => {
        if (p.type === 'SpreadElement') return `...${gen(p.argument)}`;
        if (p.kind !== 'init' || p.method || literalKey(p.key, p.computed) === '__proto__') {
          throw new ExpressionError(`cannot compile this property`, p.start);
        }
        const key = p.computed ? `[${gen(p.key)}]` : p.key.type === 'Identifier' ? JSON.stringify(p.key.name) : gen(p.key);
        return `${key}: ${gen(p.value)}`;
      });
      return `({${properties.join(', ')}})`;
    }
    case 'SpreadElement':
      return `...${gen(node.argument)}`;
    case 'ArrowFunctionExpression': {
      if (node.async || node.body.type === 'BlockStatement') break;
      const inner = new Set(params);
      const names: string[] = [];
      for (const param of node.params) {
        if (param.type !== 'Identifier') break;
        inner.add(param.name);
        names.push(paramName(param.name));
      }
      if (names.length !== node.params.length) break;
      // Loops exist only as callbacks: every call ticks the watch, which stops a runaway evaluation.
      out.watched = true;
      return `((${names.join(', ')}) => ($$t.n++ & 63 || $$t.check(), ${gen(node.body, inner)}))`;
    }
    case 'ParenthesizedExpression':
      return `(${gen(node.expression)})`;
  }
  // Unreachable for checked input: the checker rejects everything the generator does not know.
  throw new ExpressionError(`cannot compile ${node.type}`, node.start);
}

function memberKey(node: MemberExpression, params: Params, out: Generated): string {
  return literalKey(node.property, node.computed) !== undefined
    ? generate(node.property, params, out)
    : `$$key(${generate(node.property, params, out)}, ${node.property.start})`;
}

/** The guarded method a call names (`s.repeat(n)` → `repeat`), if any. */
function guardedCall(node: CallExpression): string | undefined {
  const callee = unwrap(node.callee);
  if (callee.type !== 'MemberExpression') return undefined;
  const key = literalKey(callee.property, callee.computed);
  return key !== undefined && Object.hasOwn(GUARDED_CALLS, key) ? key : undefined;
}

/** Whether the spine of an optional chain holds a guarded call. */
function hasGuardedCall(node: AnyNode): boolean {
  if (node.type === 'CallExpression') return guardedCall(node) !== undefined || hasGuardedCall(unwrapMember(node.callee));
  if (node.type === 'MemberExpression') return hasGuardedCall(node.object);
  return false;
}

function unwrapMember(node: AnyNode): AnyNode {
  const inner = unwrap(node);
  return inner.type === 'MemberExpression' ? inner.object : inner;
}

/** One link of an optional chain, through the CHAIN helpers (see guards.ts). */
function link(node: AnyNode, params: Params, out: Generated): string {
  if (node.type === 'MemberExpression') {
    const key = node.computed ? memberKey(node, params, out) : JSON.stringify((node.property as { name: string }).name);
    return `$$c.get(${link(node.object, params, out)}, ${key}, ${node.optional})`;
  }
  if (node.type === 'CallExpression') {
    const args = `[${list(node.arguments, params, out)}]`;
    const callee = unwrap(node.callee);
    if (callee.type === 'MemberExpression') {
      const key = callee.computed ? memberKey(callee, params, out) : JSON.stringify((callee.property as { name: string }).name);
      return `$$c.call(${link(callee.object, params, out)}, ${key}, ${args}, ${callee.optional}, ${node.optional})`;
    }
    return `$$c.invoke(${link(callee, params, out)}, ${args}, ${node.optional})`;
  }
  return generate(node, params, out);
}

/** An expression in object/callee position: `1.toFixed` needs parentheses, the rest is safe as is. */
function operand(node: AnyNode, params: Params, out: Generated): string {
  const code = generate(node, params, out);
  return node.type === 'Literal' && (typeof node.value === 'number' || typeof node.value === 'bigint') ? `(${code})` : code;
}

function list(nodes: AnyNode[], params: Params, out: Generated): string {
  return nodes.map((n) => generate(n, params, out)).join(', ');
}

const SCOPE_NAMES = [...GLOBALS.keys()].filter((n) => !['record', 'undefined', 'NaN', 'Infinity'].includes(n));
const PRELUDE =
  '"use strict";\n' +
  `const { ${SCOPE_NAMES.join(', ')} } = $$scope;\n` +
  `const { ${Object.keys(RUNTIME).join(', ')} } = $$runtime;\n`;

/** How long one evaluation may run: the step's timeout. */
export interface CompileOptions {
  readonly timeoutMs?: number;
}

/**
 * Builds `function name(record) { return <body>; }` once, closing over the scope values.
 * `body` is generated code; the function is strict and sees only the names bound in the prelude.
 */
export function buildFunction<T>(
  name: string,
  body: string,
  generated: Generated,
  scope: Parameters<typeof scopeValues>[0],
  options: CompileOptions = {},
): (record: Record<string, unknown>) => T {
  const limit = Math.max(1, Math.floor(options.timeoutMs ?? EXPRESSION_LIMITS.defaultTimeMs));
  // Only code that can loop or allocate by a record's say starts the watch: the rest costs nothing.
  const begin = generated.watched ? `  $$t.begin(${limit});\n` : '';
  let factory: (scope: unknown, runtime: unknown, patterns: unknown) => (record: Record<string, unknown>) => T;
  try {
    factory = new Function(
      '$$scope',
      '$$runtime',
      '$$patterns',
      `${PRELUDE}return function ${name}(record) {\n${begin}  return ${body};\n};`,
    ) as typeof factory;
  } catch (error) {
    // The checker accepted something this Node version cannot compile (e.g. newer syntax).
    throw new ExpressionError(`cannot compile the expression: ${(error as Error).message}`, 0);
  }
  return factory(scopeValues(scope), RUNTIME, generated.patterns);
}
