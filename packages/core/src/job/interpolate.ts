import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export interface InterpolationProblem {
  readonly pointer: string;
  readonly message: string;
  readonly hint?: string;
  /** Missing environment variables are warnings for `sluice validate` without `--strict-env`. */
  readonly kind: 'missing-env' | 'file' | 'syntax';
}

export interface Interpolated {
  readonly value: unknown;
  /** Every value that came from `${env:}` or `${file:}`; the redactor hides them. */
  readonly secrets: string[];
  readonly problems: InterpolationProblem[];
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;

/** The most `${file:}` reads: it is for secrets and tokens, not data. */
export const FILE_CAP = 1024 * 1024;

class FileRefused extends Error {}

/**
 * A regular file's text, refusing anything else (`/dev/zero`, a FIFO, a folder) and anything over
 * {@link FILE_CAP}. The size is checked on the open file, and the read stops past the cap anyway
 * (a file can grow, and some report size 0).
 */
function readSmallFile(path: string): string {
  // Non-blocking, so a FIFO is refused instead of waiting for a writer.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new FileRefused(`${path} is not a regular file`);
    if (info.size > FILE_CAP) throw new FileRefused(`${path} is larger than ${FILE_CAP / 1024} KiB (${info.size} bytes)`);
    const buf = Buffer.alloc(FILE_CAP + 1);
    let length = 0;
    for (let n; length < buf.length && (n = readSync(fd, buf, length, buf.length - length, null)) > 0; ) length += n;
    if (length > FILE_CAP) throw new FileRefused(`${path} is larger than ${FILE_CAP / 1024} KiB`);
    return buf.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `${env:NAME}`, `${env:NAME:-default}` and `${file:./path}` in every string of `value`.
 * `$${…}` is a literal `${…}`. A string that is exactly one reference and resolves to a number or
 * boolean becomes that number or boolean, so `size: ${env:BATCH}` works.
 */
export function interpolate(value: unknown, options: { env: NodeJS.ProcessEnv; dir: string }): Interpolated {
  const secrets = new Set<string>();
  const problems: InterpolationProblem[] = [];

  const replaceString = (text: string, pointer: string): unknown => {
    if (!text.includes('${')) return text;
    let whole = false;
    const out = text.replace(REFERENCE, (match, body: string | undefined, offset: number) => {
      if (match === '$${') return '${';
      whole = offset === 0 && match.length === text.length;
      const resolved = resolveReference(body!.trim(), pointer);
      if (resolved === undefined) return match;
      secrets.add(resolved);
      return resolved;
    });
    if (whole && /^(-?\d+(\.\d+)?|true|false)$/.test(out)) return out === 'true' ? true : out === 'false' ? false : Number(out);
    return out;
  };

  const resolveReference = (body: string, pointer: string): string | undefined => {
    const colon = body.indexOf(':');
    const kind = colon < 0 ? body : body.slice(0, colon);
    const rest = colon < 0 ? '' : body.slice(colon + 1);
    if (kind === 'env') {
      const dflt = rest.indexOf(':-');
      const name = dflt < 0 ? rest : rest.slice(0, dflt);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        problems.push({ pointer, kind: 'syntax', message: `invalid environment variable name '${name}' in \${env:${name}}` });
        return undefined;
      }
      const found = options.env[name];
      if (found !== undefined && found !== '') return found;
      if (dflt >= 0) return rest.slice(dflt + 2);
      problems.push({
        pointer,
        kind: 'missing-env',
        message: `environment variable ${name} is not set`,
        hint: `export ${name}=… or write \${env:${name}:-default}`,
      });
      return undefined;
    }
    if (kind === 'file') {
      const path = isAbsolute(rest) ? rest : resolve(options.dir, rest);
      try {
        return readSmallFile(path).replace(/\r?\n$/, '');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why = error instanceof FileRefused ? error.message : code === 'ENOENT' ? `no such file ${path}` : code ?? String(error);
        problems.push({ pointer, kind: 'file', message: `cannot read \${file:${rest}}: ${why}`, hint: `\${file:} reads a regular file of at most ${FILE_CAP / 1024} KiB (a secret, a token)` });
        return undefined;
      }
    }
    problems.push({
      pointer,
      kind: 'syntax',
      message: `unknown reference \${${body}}; use \${env:NAME} or \${file:./path}`,
      hint: 'write $${…} for a literal ${…}',
    });
    return undefined;
  };

  const walk = (node: unknown, pointer: string): unknown => {
    if (typeof node === 'string') return replaceString(node, pointer);
    if (Array.isArray(node)) return node.map((item, i) => walk(item, `${pointer}/${i}`));
    if (node && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) out[key] = walk(item, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      return out;
    }
    return node;
  };

  const result = walk(value, '');
  return { value: result, secrets: [...secrets].filter((s) => s.length > 0), problems };
}
