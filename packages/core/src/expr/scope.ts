// What an expression can see: the names in scope, the safe helpers, and the runtime guards.
import { ExpressionError } from './errors.js';
import { arrayFrom, CHAIN, GUARDED_CALLS, watch } from './guards.js';
import { LinearRegExp } from './regex.js';

/** Member names that lead to constructors, prototypes or the call stack: never readable. */
export const FORBIDDEN_MEMBERS: ReadonlySet<string> = new Set([
  'constructor',
  '__proto__',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'caller',
  'callee',
  'arguments',
]);

export function forbiddenMemberMessage(name: string): string {
  return `access to '${name}' is not allowed`;
}

/** How a global name may be used; `members` undefined means any member (data objects). */
export interface GlobalInfo {
  readonly callable: boolean;
  readonly members?: ReadonlySet<string>;
  /** Why it cannot be called, when `callable` is false. */
  readonly notCallable?: string;
}

const statics = (fn: object): string[] =>
  Object.getOwnPropertyNames(fn).filter((k) => !['length', 'name', 'prototype', 'caller', 'arguments'].includes(k));

const MATH_MEMBERS = Object.getOwnPropertyNames(Math);
const NUMBER_MEMBERS = statics(Number);
const STRING_MEMBERS = statics(String);
const none = new Set<string>();

/** The data names: `record`, `env`, `job`. */
export const DATA_NAMES = ['record', 'env', 'job'] as const;

/** The helpers, in the order error messages list them. */
export const HELPER_NAMES = [
  'Math',
  'JSON',
  'Number',
  'String',
  'Boolean',
  'Array',
  'Object',
  'Date',
  'parseInt',
  'parseFloat',
  'isNaN',
  'isFinite',
  'encodeURIComponent',
  'decodeURIComponent',
] as const;

export const VALUE_NAMES = ['undefined', 'NaN', 'Infinity'] as const;

const notAFunction = (name: string) => `'${name}' is not a function`;

export const GLOBALS: ReadonlyMap<string, GlobalInfo> = new Map<string, GlobalInfo>([
  ['record', { callable: false, notCallable: notAFunction('record') }],
  ['env', { callable: false, notCallable: notAFunction('env') }],
  ['job', { callable: false, notCallable: notAFunction('job') }],
  ['Math', { callable: false, members: new Set(MATH_MEMBERS), notCallable: notAFunction('Math') }],
  ['JSON', { callable: false, members: new Set(['parse', 'stringify']), notCallable: notAFunction('JSON') }],
  ['Number', { callable: true, members: new Set(NUMBER_MEMBERS) }],
  ['String', { callable: true, members: new Set(STRING_MEMBERS) }],
  ['Boolean', { callable: true, members: none }],
  [
    'Array',
    {
      callable: false,
      members: new Set(['isArray', 'from', 'of']),
      notCallable: "'Array' cannot be called; use Array.from(…) or Array.of(…)",
    },
  ],
  [
    'Object',
    {
      callable: false,
      members: new Set(['keys', 'values', 'entries', 'fromEntries']),
      notCallable: "'Object' cannot be called; use Object.keys, values, entries or fromEntries",
    },
  ],
  [
    'Date',
    {
      callable: false,
      members: new Set(['now', 'parse', 'UTC']),
      notCallable: 'Date must be called with `new`: new Date(…)',
    },
  ],
  ['parseInt', { callable: true, members: none }],
  ['parseFloat', { callable: true, members: none }],
  ['isNaN', { callable: true, members: none }],
  ['isFinite', { callable: true, members: none }],
  ['encodeURIComponent', { callable: true, members: none }],
  ['decodeURIComponent', { callable: true, members: none }],
  ['undefined', { callable: false, members: none, notCallable: notAFunction('undefined') }],
  ['NaN', { callable: false, members: none, notCallable: notAFunction('NaN') }],
  ['Infinity', { callable: false, members: none, notCallable: notAFunction('Infinity') }],
]);

export const AVAILABLE_NAMES = `record, env, job and the helpers ${HELPER_NAMES.join(', ')}`;

// ---------- runtime values (shared, frozen) ----------

/** A frozen object without a prototype, so nothing but the listed members is reachable. */
function namespace(members: Record<string, unknown>, hasInstance?: (value: unknown) => boolean): object {
  const ns = Object.assign(Object.create(null) as Record<string, unknown>, members);
  if (hasInstance) Object.defineProperty(ns, Symbol.hasInstance, { value: hasInstance });
  return Object.freeze(ns);
}

/** Copies statics onto a wrapper function and freezes it; `instanceof` still works against the real one. */
function wrapper<F extends object>(fn: F, real: Function, names: readonly string[]): F {
  for (const name of names) {
    Object.defineProperty(fn, name, { value: (real as unknown as Record<string, unknown>)[name], enumerable: true });
  }
  Object.defineProperty(fn, Symbol.hasInstance, { value: (value: unknown) => value instanceof real });
  return Object.freeze(fn);
}

// Method shorthand: not constructible, no `prototype`, and can read `arguments`.
const safeNumber = wrapper(
  {
    Number(value?: unknown): number {
      return arguments.length === 0 ? 0 : Number(value);
    },
  }.Number,
  Number,
  NUMBER_MEMBERS,
);
const safeString = wrapper(
  {
    String(value?: unknown): string {
      return arguments.length === 0 ? '' : String(value);
    },
  }.String,
  String,
  STRING_MEMBERS,
);
const safeBoolean = wrapper({ Boolean: (value?: unknown): boolean => Boolean(value) }.Boolean, Boolean, []);
const safeDate = wrapper(
  {
    Date(): string {
      return Date();
    },
  }.Date,
  Date,
  ['now', 'parse', 'UTC'],
);

const HELPERS: Readonly<Record<(typeof HELPER_NAMES)[number], unknown>> = Object.freeze({
  Math: namespace(Object.fromEntries(MATH_MEMBERS.map((k) => [k, (Math as unknown as Record<string, unknown>)[k]]))),
  JSON: namespace({ parse: JSON.parse, stringify: JSON.stringify }),
  Number: safeNumber,
  String: safeString,
  Boolean: safeBoolean,
  Array: namespace(
    {
      isArray: Array.isArray,
      // An arrow: `Array.from.call(SomeConstructor, …)` cannot make it construct anything; sized first.
      from: (items: unknown, mapFn?: (v: unknown, i: number) => unknown) => arrayFrom(items, mapFn),
      of: (...items: unknown[]) => items,
    },
    (value) => value instanceof Array,
  ),
  Object: namespace(
    { keys: Object.keys, values: Object.values, entries: Object.entries, fromEntries: Object.fromEntries },
    (value) => value instanceof Object,
  ),
  Date: safeDate,
  parseInt,
  parseFloat,
  isNaN,
  isFinite,
  encodeURIComponent,
  decodeURIComponent,
});

/** Checks a computed member key at run time; returns the property key to use. */
export function guardKey(key: unknown, offset: number): PropertyKey {
  if (typeof key === 'number') return key;
  const k = typeof key === 'string' || typeof key === 'symbol' ? key : String(key);
  if (typeof k === 'string' && FORBIDDEN_MEMBERS.has(k)) throw new ExpressionError(forbiddenMemberMessage(k), offset);
  return k;
}

/** Template value to text: nullish → '', objects → JSON, dates → ISO, the rest → String(v). */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    return JSON.stringify(value) ?? '';
  }
  return String(value);
}

/** Internal names used by generated code; user names can never take this shape. */
export const RUNTIME = Object.freeze({ $$key: guardKey, $$text: toText, $$Date: Date, $$t: watch, $$g: GUARDED_CALLS, $$c: CHAIN, $$Linear: LinearRegExp });

/** The values bound to the global names for one compiled expression. */
export function scopeValues(scope: {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly job: Readonly<{ name: string }>;
}): Readonly<Record<string, unknown>> {
  const frozenCopy = (obj: object) => Object.freeze(Object.assign(Object.create(null) as object, obj));
  return Object.freeze({ ...HELPERS, env: frozenCopy(scope.env ?? {}), job: frozenCopy(scope.job ?? {}) });
}
