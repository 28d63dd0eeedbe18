// Run-time limits of expressions: record data decides how long an evaluation runs and how much it
// allocates, so neither may be unbounded. Loops in an expression exist only as callbacks (arrow
// functions), so arrow bodies tick a watch; the built-ins whose output size comes from an argument
// (Array.from, repeat, padStart, padEnd) check that size first; patterns built from text run on RE2.
import { getHeapStatistics } from 'node:v8';
import { LinearRegExp, linearFromText } from './regex.js';

/** Limits of one evaluation, documented in docs/job-format.md. */
export const EXPRESSION_LIMITS = Object.freeze({
  /** Elements of an array made by Array.from. */
  arrayElements: 1_000_000,
  /** Characters of a string made by repeat, padStart or padEnd. */
  stringLength: 10_000_000,
  /** Heap growth during one evaluation. */
  heapBytes: 1024 * 1024 * 1024,
  /** Time of one evaluation when the caller gives none (a step gives its timeout). */
  defaultTimeMs: 30_000,
});

/** An evaluation went past a limit; the record fails, the run goes on. */
export class ExpressionLimitError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionLimitError';
  }
}

const TICKS_PER_CHECK = 64;
const CHECKS_PER_HEAP_CHECK = 64;

/**
 * The clock of the evaluation in progress (evaluations never nest, so one serves all). Generated code
 * runs `$$t.n++ & 63 || $$t.check()` in every arrow body: a counter, and the clock every 64 calls.
 * The time counts from the first check, so an evaluation with few callbacks never reads the clock.
 */
export class EvaluationWatch {
  n = 1;
  private started = 0;
  private limitMs: number = EXPRESSION_LIMITS.defaultTimeMs;
  private checks = 0;
  private heapAtStart = 0;

  begin(limitMs: number): void {
    this.n = 1;
    this.started = 0;
    this.checks = 0;
    this.limitMs = limitMs;
  }

  check(): boolean {
    const now = performance.now();
    if (this.started === 0) {
      this.started = now;
      this.heapAtStart = getHeapStatistics().used_heap_size;
      return false;
    }
    if (now - this.started > this.limitMs) {
      throw new ExpressionLimitError(`the expression ran longer than its time limit (${formatMs(this.limitMs)}, the step's timeout)`);
    }
    if (++this.checks % CHECKS_PER_HEAP_CHECK === 0) {
      const grown = getHeapStatistics().used_heap_size - this.heapAtStart;
      if (grown > EXPRESSION_LIMITS.heapBytes) {
        throw new ExpressionLimitError(`the expression allocated more than ${EXPRESSION_LIMITS.heapBytes / 2 ** 20} MiB`);
      }
    }
    return false;
  }

  /** Work done inside a built-in (`units` elements or characters) counts as ticks. */
  charge(units: number): void {
    const before = this.n;
    this.n += Math.floor(units / 16);
    if (Math.floor(before / TICKS_PER_CHECK) !== Math.floor(this.n / TICKS_PER_CHECK)) this.check();
  }
}

export const watch = new EvaluationWatch();

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function tooLarge(what: string, size: number, limit: number, unit: string): ExpressionLimitError {
  return new ExpressionLimitError(`${what}: ${size} ${unit} is more than an expression may make (${limit})`);
}

/** Array.from with its size checked before anything is allocated. */
export function arrayFrom(items: unknown, mapFn?: (value: unknown, index: number) => unknown): unknown[] {
  let size: number | undefined;
  if (typeof items === 'string') size = items.length;
  else if (items !== null && typeof items === 'object' && 'length' in items) {
    const length = Number((items as { length: unknown }).length);
    size = Number.isNaN(length) ? 0 : length;
  }
  if (size !== undefined) {
    if (size > EXPRESSION_LIMITS.arrayElements) throw tooLarge('Array.from', size, EXPRESSION_LIMITS.arrayElements, 'elements');
    watch.charge(size);
  }
  return mapFn === undefined ? Array.from(items as ArrayLike<unknown>) : Array.from(items as ArrayLike<unknown>, mapFn);
}

function checkLength(what: string, length: number): void {
  if (length > EXPRESSION_LIMITS.stringLength) throw tooLarge(what, length, EXPRESSION_LIMITS.stringLength, 'characters');
  watch.charge(length);
}

function asPattern(pattern: unknown, flags: string): unknown {
  // A RegExp here can only be an expression's own literal, which the checker let run on V8.
  return pattern instanceof LinearRegExp || pattern instanceof RegExp ? pattern : linearFromText(pattern, flags);
}

type Receiver = Record<string, (...args: unknown[]) => unknown>;

/**
 * Method calls whose cost comes from an argument, routed here by the generated code
 * (`record.s.repeat(n)` → `$$g.repeat(record.s, n)`). A receiver that is not a string gets the
 * plain call, so the error for a wrong type is the usual one.
 */
export const GUARDED_CALLS: Readonly<Record<string, (receiver: unknown, ...args: unknown[]) => unknown>> = Object.freeze({
  repeat(receiver: unknown, count?: unknown) {
    if (typeof receiver === 'string') checkLength('repeat', receiver.length * Math.max(0, Math.trunc(Number(count)) || 0));
    return (receiver as Receiver).repeat!(count);
  },
  padStart(receiver: unknown, length?: unknown, fill?: unknown) {
    if (typeof receiver === 'string') checkLength('padStart', Number(length));
    return (receiver as Receiver).padStart!(length, fill);
  },
  padEnd(receiver: unknown, length?: unknown, fill?: unknown) {
    if (typeof receiver === 'string') checkLength('padEnd', Number(length));
    return (receiver as Receiver).padEnd!(length, fill);
  },
  // A pattern given as text would become a backtracking RegExp: it runs on RE2 too.
  match(receiver: unknown, pattern?: unknown) {
    return (receiver as Receiver).match!(typeof receiver === 'string' ? asPattern(pattern, '') : pattern);
  },
  matchAll(receiver: unknown, pattern?: unknown) {
    return (receiver as Receiver).matchAll!(typeof receiver === 'string' ? asPattern(pattern, 'g') : pattern);
  },
  search(receiver: unknown, pattern?: unknown) {
    return (receiver as Receiver).search!(typeof receiver === 'string' ? asPattern(pattern, '') : pattern);
  },
});

/** Ends an optional chain early: `a?.b.repeat(n)` with `a` nullish is undefined as a whole. */
const SHORT = Symbol('short-circuit');

/**
 * An optional chain that holds a guarded call is generated link by link through these, so the
 * guarded call keeps the chain's short-circuit (`record.s?.match(/x/)[1]` is undefined, not an error).
 */
export const CHAIN = Object.freeze({
  get(object: unknown, key: PropertyKey, optional: boolean): unknown {
    if (object === SHORT || (optional && object == null)) return SHORT;
    return (object as Record<PropertyKey, unknown>)[key];
  },
  call(object: unknown, key: PropertyKey, args: unknown[], optionalMember: boolean, optionalCall: boolean): unknown {
    if (object === SHORT || (optionalMember && object == null)) return SHORT;
    const fn = (object as Record<PropertyKey, unknown>)[key];
    if (optionalCall && fn == null) return SHORT;
    const guarded = typeof key === 'string' && Object.hasOwn(GUARDED_CALLS, key) ? GUARDED_CALLS[key] : undefined;
    if (guarded) return guarded(object, ...args);
    if (typeof fn !== 'function') throw new TypeError(`${String(key)} is not a function`);
    return Reflect.apply(fn, object, args);
  },
  invoke(fn: unknown, args: unknown[], optional: boolean): unknown {
    if (fn === SHORT || (optional && fn == null)) return SHORT;
    if (typeof fn !== 'function') throw new TypeError('not a function');
    return fn(...args);
  },
  end(value: unknown): unknown {
    return value === SHORT ? undefined : value;
  },
});
