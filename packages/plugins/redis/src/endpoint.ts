/**
 * A Redis server as Sluice may name it in messages: the URL without user, password, path
 * credentials or query (`redis://host:6379`), plus the secrets to scrub from any text.
 */
export class RedisEndpoint {
  private constructor(
    /** `redis://host:port` or `rediss://host:port`, never a credential. */
    readonly display: string,
    private readonly secrets: readonly string[],
  ) {}

  /** Parses `checkpoint.url`; the error never repeats the URL, which may hold a password. */
  static parse(url: string | undefined): RedisEndpoint {
    if (!url) throw new Error('checkpoint.store: redis needs checkpoint.url: redis://host:6379 (or ${env:REDIS_URL})');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error('checkpoint.url: not a valid URL; expected redis://[user:password@]host:6379[/db]');
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new Error(`checkpoint.url: must start with redis:// or rediss:// (got ${parsed.protocol}//…)`);
    }
    const secrets = new Set<string>();
    for (const value of [parsed.password, parsed.searchParams.get('password') ?? '']) {
      // Like the engine's redactor: one- and two-character secrets would mangle every message.
      if (value.length < 3) continue;
      secrets.add(value);
      try {
        secrets.add(decodeURIComponent(value));
      } catch {
        // A malformed escape: the raw form is scrubbed, which is all the text can contain.
      }
    }
    const host = parsed.hostname || '127.0.0.1';
    const db = /^\/\d+$/.test(parsed.pathname) && parsed.pathname !== '/0' ? parsed.pathname : '';
    return new RedisEndpoint(`${parsed.protocol}//${host}:${parsed.port || '6379'}${db}`, [...secrets].sort((a, b) => b.length - a.length));
  }

  /** Replaces every secret of the URL in `text` by `***`. */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }
}
