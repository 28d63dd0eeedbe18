import type { PluginContext, RuleViolation } from '@sluice/core';

/**
 * Where a step's requests may go, and which of them carry its credentials. Credentials go to the
 * origin of `url` only; a request to any other origin — a next-page URL the API hands back, a URL
 * template whose host is filled in per record — is refused unless `allowOrigins` lists that
 * origin, and even then carries no credentials unless the entry says `credentials: true`.
 */
export const allowOriginsOption = {
  type: 'array',
  default: [],
  description:
    'Origins (scheme://host[:port]) besides that of `url` that requests may go to: a next page on another host, or a URL whose host is a template. Credentials (auth, Authorization, Cookie, and any header holding a ${env:…}/${file:…} secret) are sent only to the origin of `url`, and to an entry given as { origin, credentials: true }. "*" allows every origin, without credentials.',
  examples: [['https://cdn.example.com'], [{ origin: 'https://api-eu.example.com', credentials: true }], ['*']],
  items: {
    anyOf: [
      { type: 'string', minLength: 1, description: 'An origin requests may go to, without credentials (or "*": any).', examples: ['https://cdn.example.com'] },
      {
        type: 'object',
        additionalProperties: false,
        required: ['origin'],
        properties: {
          origin: { type: 'string', minLength: 1, description: 'The origin.', examples: ['https://api-eu.example.com'] },
          credentials: { type: 'boolean', default: false, description: 'Send the step\'s credentials there too.', examples: [true] },
        },
      },
    ],
  },
} as const;

export type AllowOrigin = string | { origin: string; credentials?: boolean };

/** What a request to some origin may carry. */
export type OriginVerdict = 'credentials' | 'bare' | 'refused';

/** Header names that carry credentials whatever their value. */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie)$|auth|token|api[-_]?key|secret|session|password/i;

/**
 * The origin of a URL template when it does not depend on a record: the text before the first
 * `{{` must hold the whole authority (ended by `/`, `?` or `#`), else a record could change it.
 */
export function staticOrigin(url: string): string | undefined {
  const at = url.indexOf('{{');
  const prefix = at < 0 ? url : url.slice(0, at);
  if (at >= 0 && !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*[/?#]/i.test(prefix)) return undefined;
  try {
    return new URL(prefix).origin;
  } catch {
    return undefined;
  }
}

/** An origin as `allowOrigins` may spell it (trailing slash, upper case, default port) made canonical. */
function canonical(origin: string): string | undefined {
  if (origin === '*') return '*';
  try {
    const url = new URL(origin);
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/** Rule: `allowOrigins` entries are origins (no path, query or user info). */
export function allowOriginsAreOrigins(config: { allowOrigins?: AllowOrigin[] }): RuleViolation[] {
  const found: RuleViolation[] = [];
  for (const [i, entry] of (config.allowOrigins ?? []).entries()) {
    const text = typeof entry === 'string' ? entry : entry.origin;
    const origin = canonical(text);
    if (!origin) found.push({ path: `allowOrigins.${i}`, message: `${JSON.stringify(text)} is not an origin`, hint: 'e.g. https://cdn.example.com' });
    else if (origin === '*' && typeof entry !== 'string' && entry.credentials) {
      found.push({ path: `allowOrigins.${i}`, message: 'credentials cannot go to every origin ("*")', hint: 'list the origins that may have them' });
    } else if (origin !== '*' && !/^[a-z][a-z0-9+.-]*:\/\/[^/@]*\/?$/i.test(text)) {
      found.push({ path: `allowOrigins.${i}`, message: `${JSON.stringify(text)} is not just an origin (it has a path, query or user)`, hint: `use ${origin}` });
    }
  }
  return found;
}

/** Rule: `auth` with a URL whose host is a template would never be sent; say so. */
export function authHasAnOrigin(config: { url?: string; auth?: unknown; allowOrigins?: AllowOrigin[] }): RuleViolation | undefined {
  if (!config.auth || typeof config.url !== 'string' || staticOrigin(config.url) !== undefined) return undefined;
  if ((config.allowOrigins ?? []).some((e) => typeof e !== 'string' && e.credentials)) return undefined;
  return {
    path: 'auth',
    message: 'the host of url is a template, so auth has no origin to go to',
    hint: 'list the origins that may receive it: allowOrigins: [{ origin: https://api.example.com, credentials: true }]',
  };
}

/** Decides, per request, whether its origin may be reached and whether credentials go along. */
export class OriginPolicy {
  private readonly allowed = new Map<string, boolean>();
  private readonly any: boolean;

  constructor(
    /** The origin of `url`; undefined when its host is a per-record template. */
    readonly home: string | undefined,
    allowOrigins: readonly AllowOrigin[] = [],
  ) {
    let any = false;
    for (const entry of allowOrigins) {
      const origin = canonical(typeof entry === 'string' ? entry : entry.origin);
      if (origin === '*') any = true;
      else if (origin) this.allowed.set(origin, this.allowed.get(origin) === true || (typeof entry !== 'string' && entry.credentials === true));
    }
    this.any = any;
  }

  verdict(origin: string): OriginVerdict {
    if (origin === this.home) return 'credentials';
    const credentials = this.allowed.get(origin);
    if (credentials !== undefined) return credentials ? 'credentials' : 'bare';
    return this.any ? 'bare' : 'refused';
  }

  /** Why a request to `origin` is refused, and how to allow it. */
  refusal(origin: string): string {
    const home = this.home ? `the origin of url (${this.home})` : 'an origin listed in allowOrigins (the host of url is a template)';
    return `${origin} is not ${home}; requests go there only when allowOrigins lists it (credentials only with credentials: true)`;
  }
}

/** The headers without those that carry credentials: by name, or because a secret is in the value. */
export function withoutCredentials(ctx: PluginContext, headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (CREDENTIAL_HEADER.test(name) || ctx.redact(value) !== value) continue;
    out[name] = value;
  }
  return out;
}
