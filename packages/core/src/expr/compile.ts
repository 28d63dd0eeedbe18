// Code generation: turns a checked expression into JavaScript source, built once with `new Function`.
import type { AnyNode } from 'acorn';
import { ExpressionError } from './errors.js';
import { globalName, literalKey, type Params } from './check.js';
import { FORBIDDEN_MEMBERS, GLOBALS, RUNTIME, scopeValues } from './scope.js';

/** Arrow parameters are renamed so they can never collide with the generated code's own names. */
const paramName = (name: string) => `$p_${name}`;

/** JavaScript source for a checked expression. Every compound expression comes out parenthesized. */
export function generate(node: AnyNode, params: Params = new Set()): string {
  switch (node.type) {
    case 'Identifier':
      if (params.has(node.name)) return paramName(node.name);
      if (GLOBALS.has(node.name)) return node.name;
      break;
    case 'Literal':
      return node.raw ?? JSON.stringify(node.value);
    case 'TemplateLiteral': {
      let out = '`';
      node.quasis.forEach((quasi, i) => {
        out += quasi.value.raw;
        const expression = node.expressions[i];
        if (expression) out += '${' + generate(expression, params) + '}';
      });
      return out + '`';
    }
    case 'MemberExpression': {
      if (node.object.type === 'Super' || node.property.type === 'PrivateIdentifier') break;
      const object = operand(node.object, params);
      const literal = literalKey(node.property, node.computed);
      if (literal !== undefined && FORBIDDEN_MEMBERS.has(literal)) break;
      if (!node.computed) {
        if (node.property.type !== 'Identifier') break;
        return `${object}${node.optional ? '?.' : '.'}${node.property.name}`;
      }
      const key =
        literal !== undefined
          ? generate(node.property, params)
          : `$$key(${generate(node.property, params)}, ${node.property.start})`;
      return `${object}${node.optional ? '?.' : ''}[${key}]`;
    }
    case 'ChainExpression':
      return `(${generate(node.expression, params)})`;
    case 'CallExpression':
      if (node.callee.type === 'Super') break;
      return `${operand(node.callee, params)}${node.optional ? '?.' : ''}(${list(node.arguments, params)})`;
    case 'NewExpression':
      if (globalName(node.callee, params) !== 'Date') break;
      return `(new $$Date(${list(node.arguments, params)}))`;
    case 'UnaryExpression':
      if (node.operator === 'delete') break;
      return `(${node.operator} ${generate(node.argument, params)})`;
    case 'BinaryExpression':
      if (node.left.type === 'PrivateIdentifier') break;
      return `(${generate(node.left, params)} ${node.operator} ${generate(node.right, params)})`;
    case 'LogicalExpression':
      return `(${generate(node.left, params)} ${node.operator} ${generate(node.right, params)})`;
    case 'ConditionalExpression':
      return `(${generate(node.test, params)} ? ${generate(node.consequent, params)} : ${generate(node.alternate, params)})`;
    case 'ArrayExpression': {
      const elements = node.elements.map((e) => (e ? generate(e, params) : ''));
      // A trailing hole needs its own comma: [a, ,] has length 2.
      return `[${elements.join(', ')}${node.elements.length > 0 && node.elements.at(-1) === null ? ',' : ''}]`;
    }
    case 'ObjectExpression': {
      const properties = node.properties.map((p) => {
        if (p.type === 'SpreadElement') return `...${generate(p.argument, params)}`;
        if (p.kind !== 'init' || p.method || literalKey(p.key, p.computed) === '__proto__') {
          throw new ExpressionError(`cannot compile this property`, p.start);
        }
        const key = p.computed
          ? `[${generate(p.key, params)}]`
          : p.key.type === 'Identifier'
            ? JSON.stringify(p.key.name)
            : generate(p.key, params);
        return `${key}: ${generate(p.value, params)}`;
      });
      return `({${properties.join(', ')}})`;
    }
    case 'SpreadElement':
      return `...${generate(node.argument, params)}`;
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
      return `((${names.join(', ')}) => (${generate(node.body, inner)}))`;
    }
    case 'ParenthesizedExpression':
      return `(${generate(node.expression, params)})`;
  }
  // Unreachable for checked input: the checker rejects everything the generator does not know.
  throw new ExpressionError(`cannot compile ${node.type}`, node.start);
}

/** An expression in object/callee position: `1.toFixed` needs parentheses, the rest is safe as is. */
function operand(node: AnyNode, params: Params): string {
  const code = generate(node, params);
  return node.type === 'Literal' && (typeof node.value === 'number' || typeof node.value === 'bigint') ? `(${code})` : code;
}

function list(nodes: AnyNode[], params: Params): string {
  return nodes.map((n) => generate(n, params)).join(', ');
}

const SCOPE_NAMES = [...GLOBALS.keys()].filter((n) => !['record', 'undefined', 'NaN', 'Infinity'].includes(n));
const PRELUDE =
  '"use strict";\n' +
  `const { ${SCOPE_NAMES.join(', ')} } = $$scope;\n` +
  `const { ${Object.keys(RUNTIME).join(', ')} } = $$runtime;\n`;

/**
 * Builds `function name(record) { return <body>; }` once, closing over the scope values.
 * `body` is generated code; the function is strict and sees only the names bound in the prelude.
 */
export function buildFunction<T>(
  name: string,
  body: string,
  scope: Parameters<typeof scopeValues>[0],
): (record: Record<string, unknown>) => T {
  let factory: (scope: unknown, runtime: unknown) => (record: Record<string, unknown>) => T;
  try {
    factory = new Function('$$scope', '$$runtime', `${PRELUDE}return function ${name}(record) {\n  return ${body};\n};`) as typeof factory;
  } catch (error) {
    // The checker accepted something this Node version cannot compile (e.g. newer syntax).
    throw new ExpressionError(`cannot compile the expression: ${(error as Error).message}`, 0);
  }
  return factory(scopeValues(scope), RUNTIME);
}
