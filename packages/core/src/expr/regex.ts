// Regular expressions in job expressions run in time linear in the input, so no record can make a
// pattern backtrack for minutes. Two engines, chosen per pattern:
// - V8's own, when its linear-time engine can run the pattern (no `i`/`u` flag, no lookaround or
//   backreference, small counted repeats): V8 is told to switch a regexp to that engine once it
//   has backtracked too much, so ordinary input runs at V8's speed and hostile input stays linear;
// - RE2 (the re2js port) for the rest. A LinearRegExp speaks the protocols String.prototype.match/
//   replace/split/search use, so `s.replace(/x/i, …)` works as usual.
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type { RE2JS } from 're2js';

let v8Linear = false;
/** Whether V8's linear-time engine can run the pattern; the first call turns the fallback on. */
export function runsOnV8(source: string, flags: string): boolean {
  if (!v8Linear) {
    // Read when a regexp is compiled and run, so setting them now covers every later regexp.
    setFlagsFromString('--enable-experimental-regexp-engine');
    setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
    v8Linear = true;
  }
  try {
    new RegExp(source, `${flags}l`);
    return true;
  } catch {
    return false;
  }
}

type Engine = typeof RE2JS;
let loaded: Engine | undefined;
/** re2js takes tens of milliseconds to load: only jobs with a regular expression pay for it. */
function engine(): Engine {
  return (loaded ??= (createRequire(import.meta.url)('re2js') as { RE2JS: Engine }).RE2JS);
}

const ACCEPTED_FLAGS = 'gimsuy';

/** A pattern RE2 cannot run, with the reason in words. */
export class RegexSyntaxError extends SyntaxError {}

/** A compiled pattern, shared by every LinearRegExp made from one literal. */
export interface LinearPattern {
  readonly source: string;
  readonly flags: string;
  readonly re: RE2JS;
  readonly groupNames: ReadonlyArray<readonly [string, number]>;
}

/** Features a backtracking engine has and RE2 has not; said by name instead of RE2's parser message. */
function unsupportedFeature(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(next)) return `the backreference \\${next}`;
      if (!inClass && next === 'k' && source[i + 2] === '<') return 'the named backreference \\k<…>';
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') inClass = true;
    else if (c === '(' && source[i + 1] === '?') {
      const head = source.slice(i + 2, i + 4);
      if (head[0] === '=' || head[0] === '!') return `the lookahead (?${head[0]}`;
      if (head === '<=' || head === '<!') return `the lookbehind (?${head}`;
    }
  }
  return undefined;
}

/** Compiles a pattern for RE2; throws RegexSyntaxError saying what is not supported. */
export function compilePattern(source: string, flags: string): LinearPattern {
  for (const flag of flags) {
    if (!ACCEPTED_FLAGS.includes(flag)) throw new RegexSyntaxError(`the regular expression flag '${flag}' is not supported (supported: ${ACCEPTED_FLAGS})`);
  }
  const feature = unsupportedFeature(source);
  if (feature) {
    throw new RegexSyntaxError(
      `${feature} is not supported: regular expressions run in linear time (RE2), without lookahead, lookbehind or backreferences`,
    );
  }
  const re2 = engine();
  const bits = (flags.includes('i') ? re2.CASE_INSENSITIVE : 0) | (flags.includes('m') ? re2.MULTILINE : 0) | (flags.includes('s') ? re2.DOTALL : 0);
  let re: RE2JS;
  try {
    re = re2.compile(re2.translateRegExp(source), bits);
  } catch (error) {
    throw new RegexSyntaxError(`invalid regular expression /${source}/: ${(error as Error).message.replace(/^error parsing regexp: /, '')}`);
  }
  return { source, flags: [...flags].sort().join(''), re, groupNames: Object.entries(re.namedGroups()) };
}

type ExecResult = RegExpExecArray;

/** A RegExp look-alike over RE2. Made per evaluation of a literal, as a RegExp literal would be. */
export class LinearRegExp {
  lastIndex = 0;
  constructor(private readonly pattern: LinearPattern) {}

  get source(): string {
    return this.pattern.source;
  }
  get flags(): string {
    return this.pattern.flags;
  }
  get global(): boolean {
    return this.pattern.flags.includes('g');
  }
  get sticky(): boolean {
    return this.pattern.flags.includes('y');
  }
  get ignoreCase(): boolean {
    return this.pattern.flags.includes('i');
  }
  get multiline(): boolean {
    return this.pattern.flags.includes('m');
  }
  get dotAll(): boolean {
    return this.pattern.flags.includes('s');
  }
  get unicode(): boolean {
    return this.pattern.flags.includes('u');
  }

  toString(): string {
    return `/${this.source}/${this.flags}`;
  }

  test(input: unknown): boolean {
    if (!this.global && !this.sticky) return this.pattern.re.test(String(input));
    return this.exec(input) !== null;
  }

  exec(input: unknown): ExecResult | null {
    const text = String(input);
    const stateful = this.global || this.sticky;
    const from = stateful ? this.lastIndex : 0;
    const found = this.matchAt(text, from);
    if (stateful) this.lastIndex = found ? found.index + found[0].length : 0;
    return found;
  }

  /** The first match starting at or after `from` (exactly at `from` when sticky). */
  private matchAt(text: string, from: number, sticky = this.sticky): ExecResult | null {
    if (from > text.length) return null;
    const matcher = this.pattern.re.matcher(text);
    if (!matcher.find(from)) return null;
    const index = matcher.start();
    if (sticky && index !== from) return null;
    const count = matcher.groupCount();
    const result = [] as unknown as ExecResult;
    for (let g = 0; g <= count; g++) result.push(matcher.group(g) ?? (undefined as unknown as string));
    result.index = index;
    result.input = text;
    let groups: Record<string, string | undefined> | undefined;
    if (this.pattern.groupNames.length > 0) {
      groups = Object.create(null) as Record<string, string | undefined>;
      for (const [name, g] of this.pattern.groupNames) groups[name] = result[g];
    }
    result.groups = groups as Record<string, string> | undefined;
    return result;
  }

  /** Every match from the start, as the global forms of match/replace see them. */
  private all(text: string): ExecResult[] {
    const out: ExecResult[] = [];
    let at = 0;
    for (let found = this.matchAt(text, at); found; found = this.matchAt(text, at)) {
      out.push(found);
      const end = found.index + found[0].length;
      // An empty match moves on by one, as RegExp does, or the loop would never end.
      at = end === found.index ? end + 1 : end;
    }
    return out;
  }

  [Symbol.match](input: unknown): RegExpMatchArray | null {
    const text = String(input);
    if (!this.global) return this.exec(text);
    this.lastIndex = 0;
    const matches = this.all(text).map((m) => m[0]);
    return matches.length === 0 ? null : (matches as RegExpMatchArray);
  }

  *[Symbol.matchAll](input: unknown): IterableIterator<RegExpMatchArray> {
    const text = String(input);
    if (!this.global) {
      const found = this.matchAt(text, this.lastIndex);
      if (found) yield found;
      return;
    }
    yield* this.all(text).filter((m) => m.index >= this.lastIndex);
  }

  [Symbol.search](input: unknown): number {
    return this.matchAt(String(input), 0)?.index ?? -1;
  }

  [Symbol.replace](input: unknown, replacement: unknown): string {
    const text = String(input);
    const matches = this.global ? this.all(text) : [this.exec(text)].filter((m): m is ExecResult => m !== null);
    if (this.global) this.lastIndex = 0;
    let out = '';
    let last = 0;
    for (const m of matches) {
      out += text.slice(last, m.index);
      if (typeof replacement === 'function') {
        const args: unknown[] = [...m, m.index, text];
        if (m.groups) args.push(m.groups);
        out += String(replacement(...args));
      } else out += substitute(String(replacement), m, text);
      last = m.index + m[0].length;
    }
    return out + text.slice(last);
  }

  [Symbol.split](input: unknown, limit?: number): string[] {
    const text = String(input);
    const max = limit === undefined ? 2 ** 32 - 1 : limit >>> 0;
    const out: string[] = [];
    if (max === 0) return out;
    // Split looks for the separator everywhere, whatever the flags say.
    if (text.length === 0) return this.matchAt(text, 0, false) ? out : [text];
    let piece = 0;
    let at = 0;
    while (at < text.length) {
      const m = this.matchAt(text, at, false);
      if (!m || m.index >= text.length) break;
      const end = m.index + m[0].length;
      if (end === piece) {
        at = m.index + 1;
        continue;
      }
      out.push(text.slice(piece, m.index));
      if (out.length === max) return out;
      for (let g = 1; g < m.length; g++) {
        out.push(m[g]!);
        if (out.length === max) return out;
      }
      piece = end;
      at = end;
    }
    out.push(text.slice(piece));
    return out;
  }
}

/** `$&`, `$1`, `$<name>`, `` $` ``, `$'`, `$$` in a replacement string, as String.prototype.replace does. */
function substitute(replacement: string, m: ExecResult, text: string): string {
  if (!replacement.includes('$')) return replacement;
  const captures = m.length - 1;
  return replacement.replace(/\$([$&`']|\d\d?|<([^>]*)>)/g, (whole, token: string, name: string | undefined) => {
    if (token === '$') return '$';
    if (token === '&') return m[0];
    if (token === '`') return text.slice(0, m.index);
    if (token === "'") return text.slice(m.index + m[0].length);
    if (name !== undefined) return m.groups ? (m.groups[name] ?? '') : whole;
    let n = Number(token);
    if (n >= 1 && n <= captures) return m[n] ?? '';
    // `$12` with one capture is `$1` followed by "2".
    n = Number(token[0]);
    if (token.length === 2 && n >= 1 && n <= captures) return (m[n] ?? '') + token[1];
    return whole;
  });
}

const fromText = new Map<string, LinearPattern | 'v8'>();

/** A linear-time regexp for a pattern given as text (`s.match(record.pattern)`); the last few are cached. */
export function linearFromText(pattern: unknown, flags: string): RegExp | LinearRegExp {
  const source = pattern === undefined ? '(?:)' : String(pattern);
  const key = `${flags}/${source}`;
  let compiled = fromText.get(key);
  if (!compiled) {
    compiled = runsOnV8(source, flags) ? 'v8' : compilePattern(source, flags);
    if (fromText.size >= 256) fromText.delete(fromText.keys().next().value!);
    fromText.set(key, compiled);
  }
  return compiled === 'v8' ? new RegExp(source, flags) : new LinearRegExp(compiled);
}
