/** `--metrics HOST:PORT` (`:9464` listens on every interface; `[::1]:9464` for IPv6). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `--metrics`; throws a one-line message saying what is expected. */
export function listenAddress(value: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`--metrics must be HOST:PORT, like 127.0.0.1:9464 or :9464 for every interface (got '${value}')`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/** `--metrics-push URL`: a Pushgateway's base URL; credentials in it become a Basic header. */
export interface PushTarget {
  /** The URL without credentials, for messages. */
  readonly display: string;
  readonly url: URL;
  readonly authorization?: string;
}

export function pushTarget(value: string): PushTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--metrics-push must be a Pushgateway URL, like http://pushgateway:9091 (got '${value.replace(/\/\/[^/@]*@/, '//…@')}')`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--metrics-push must be an http:// or https:// URL (got ${url.protocol})`);
  const authorization = url.username || url.password ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
  url.username = '';
  url.password = '';
  return { display: url.origin + url.pathname.replace(/\/$/, ''), url, ...(authorization ? { authorization } : {}) };
}
