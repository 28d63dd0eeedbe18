/**
 * The one secret scrubber of Sluice: every message, log line, report, Redis value and error that
 * may hold a secret goes through a {@link Redactor}.
 *
 * A secret rarely travels as it was typed. It is URL-encoded in a query string (`%2B`, or `+`
 * for a space; upper- or lower-case hex), base64-encoded in a Basic `Authorization` header (at
 * any of three byte alignments, after `user:`), JSON-escaped in a serialized event (once, or
 * twice when that event is itself a JSON string), and a URL given as a secret carries a password
 * that a server may echo on its own, decoded. The redactor hides each of these forms.
 */

/** Shorter values would mangle ordinary text (and cannot be told from it). */
const MIN_SECRET = 3;
/** Shortest base64 fragment hidden on its own: shorter runs occur in ordinary base64 text. */
const MIN_BASE64_FRAGMENT = 6;

const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
/** application/x-www-form-urlencoded, as URLSearchParams writes it. */
const formEncoded = (text: string) => new URLSearchParams({ x: text }).toString().slice(2);
const jsonEscaped = (text: string) => JSON.stringify(text).slice(1, -1);

function tryDecode(text: string): string | undefined {
  try {
    const decoded = decodeURIComponent(text.replace(/\+/g, ' '));
    return decoded === text ? undefined : decoded;
  } catch {
    return undefined;
  }
}

/**
 * The base64 text that stands for `secret` wherever it starts in an encoded string: for each of
 * the three byte alignments, the characters made only of the secret's bits. Base64url too.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const from = Math.ceil((pad * 8) / 6);
    const to = Math.floor(((pad + bytes.length) * 8) / 6);
    const fragment = encoded.slice(from, to);
    if (fragment.length >= MIN_BASE64_FRAGMENT) out.push(fragment, fragment.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** The parts of a URL-shaped secret that may show up alone: its password (raw and decoded). */
function partsOfUrl(secret: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(secret)) return [];
  let url: URL;
  try {
    url = new URL(secret);
  } catch {
    return [];
  }
  const out: string[] = [];
  // As written (the URL class re-encodes it), as the URL class gives it, and decoded.
  const written = /^[^:]+:\/\/[^:@/?#]*:([^@/?#]*)@/.exec(secret)?.[1];
  if (written) out.push(written);
  if (url.password) out.push(url.password, tryDecode(url.password) ?? url.password);
  for (const [name, value] of url.searchParams) if (/pass|secret|token|key|auth/i.test(name)) out.push(value);
  return out;
}

/** Every form of `secret` worth hiding. */
export function formsOf(secret: string): string[] {
  const plain = new Set<string>([secret, ...partsOfUrl(secret)]);
  const decoded = tryDecode(secret);
  if (decoded !== undefined) plain.add(decoded);
  const forms = new Set<string>();
  for (const value of plain) {
    if (value.length < MIN_SECRET) continue;
    const escaped = jsonEscaped(value);
    for (const f of [value, escaped, jsonEscaped(escaped)]) forms.add(f);
    // A lone surrogate cannot be URL-encoded, so it cannot travel that way either.
    const encodings = [encodeURIComponent, formEncoded, encodeURI];
    for (const encode of encodings) {
      try {
        const encoded = encode(value);
        forms.add(encoded).add(lowerHex(encoded));
      } catch {
        // skip
      }
    }
    for (const f of base64Forms(value)) forms.add(f);
  }
  return [...forms].filter((f) => f.length >= MIN_SECRET);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Hides secret values in any text, in every form they travel in (see the module comment),
 * replacing each by `***`. Longest forms first, so a secret holding another is hidden whole.
 *
 * ```ts
 * const { redact } = new Redactor([process.env.API_TOKEN!]);
 * logger.warn(redact(error.message));
 * ```
 */
export class Redactor {
  private readonly pattern: RegExp | undefined;

  constructor(secrets: Iterable<string>) {
    const forms = new Set<string>();
    for (const secret of secrets) if (typeof secret === 'string' && secret.length >= MIN_SECRET) for (const f of formsOf(secret)) forms.add(f);
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.pattern = sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  /**
   * The redactor of a URL's credentials — its password (as written, and decoded) and query
   * values named like passwords, tokens or keys — for messages that name the URL's host on
   * purpose. An unparsable URL hides nothing.
   */
  static forUrl(url: string): Redactor {
    return new Redactor(partsOfUrl(url));
  }

  /** Whether there is anything to hide. */
  get empty(): boolean {
    return this.pattern === undefined;
  }

  /** `text` with every form of every secret replaced by `***`. */
  readonly redact = (text: string): string => (this.pattern && text ? text.replace(this.pattern, '***') : text);

  /** A copy of a JSON-like value with every string in it (keys too) redacted. */
  readonly redactValue = <T>(value: T): T => (this.pattern ? redactValue(value, this.redact) : value);
}

/**
 * A copy of a JSON-like value with `redact` applied to every string in it, keys too (values
 * with `toJSON`, such as dates, as JSON would write them). Walks the value rather than redacting
 * its JSON text, which a secret holding a quote or a backslash could break.
 */
export function redactValue<T>(value: T, redact: (text: string) => string): T {
  const walk = (input: unknown): unknown => {
    const v = input !== null && typeof input === 'object' && typeof (input as { toJSON?: unknown }).toJSON === 'function' ? (input as { toJSON(): unknown }).toJSON() : input;
    if (typeof v === 'string') return redact(v);
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(walk);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(v)) out[redact(key)] = walk(item);
    return out;
  };
  return walk(value) as T;
}
