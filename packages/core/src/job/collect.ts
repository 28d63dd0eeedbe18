// Collecting a job's problems: each with its place in the file, its path and a hint.
import type { ErrorObject } from 'ajv';
import { didYouMean, displayPath, shown, type Diagnostic } from './diagnostics.js';
import { locate, type PositionedYaml } from './yaml.js';

export class Diagnostics {
  constructor(
    private readonly yaml: PositionedYaml,
    private readonly file: string,
    readonly list: Diagnostic[],
  ) {}

  /** Hides `${env:}`/`${file:}` values: a message may quote the value that is wrong. */
  redact: (text: string) => string = (text) => text;

  hasErrors(): boolean {
    return this.list.some((x) => x.severity === 'error');
  }

  add(severity: Diagnostic['severity'], pointer: string, message: string, hint?: string, where?: { key?: boolean; extra?: number }): void {
    const pos = locate(this.yaml, pointer, where);
    const safe = this.redact;
    this.list.push({ severity, file: this.file, line: pos.line, col: pos.col, path: displayPath(pointer), message: safe(message), ...(hint ? { hint: safe(hint) } : {}) });
  }

  error(pointer: string, message: string, hint?: string): void {
    this.add('error', pointer, message, hint);
  }

  ajv(error: ErrorObject, prefix: string): void {
    const pointer = prefix + error.instancePath;
    const params = error.params as Record<string, unknown>;
    const parent = error.parentSchema as Record<string, unknown> | undefined;
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        const known = Object.keys((parent?.properties as object | undefined) ?? {}).filter((k) => k !== '$schema');
        const guess = didYouMean(key, known);
        const child = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        return this.add(
          'error',
          child,
          `unknown key '${key}'${guess ? `; did you mean '${guess}'?` : ''}`,
          known.length ? `known keys here: ${known.join(', ')}` : undefined,
          { key: true },
        );
      }
      case 'required':
        return this.add('error', pointer, `missing required key '${String(params.missingProperty)}'`);
      case 'enum':
        return this.error(pointer, `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')} (got ${shown(error.data)})`);
      case 'const':
        return this.error(pointer, `must be ${shown(params.allowedValue)} (got ${shown(error.data)})`);
      case 'type': {
        const types = ([] as string[]).concat(params.type as string | string[]).join(' or ');
        const what = parent?.expression ? 'expression' : parent?.template ? 'template' : undefined;
        return this.error(
          pointer,
          `must be ${types === 'object' ? 'a mapping' : types === 'array' ? 'a list' : `a ${types}`} (got ${describe(error.data)})`,
          what && `an ${what} is text: quote it, e.g. ${what === 'expression' ? '"record.amount > 10"' : '"https://api/{{ record.id }}"'}`,
        );
      }
      case 'expression':
      case 'template': {
        const offset = params.offset as number | undefined;
        return this.add('error', pointer, error.message ?? 'invalid', undefined, offset === undefined ? undefined : { extra: offset });
      }
      case 'pattern':
        if (pointer === '/name') return this.error(pointer, `must be lowercase letters, digits and dashes (got ${shown(error.data)})`);
        return this.error(pointer, `${error.message} (got ${shown(error.data)})`);
      default:
        return this.error(pointer, `${error.message ?? 'is invalid'}${error.data !== undefined && typeof error.data !== 'object' ? ` (got ${shown(error.data)})` : ''}`);
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${shown(value)}`;
}

export function at(yaml: PositionedYaml, file: string, pointer: string, message: string): Diagnostic {
  const pos = locate(yaml, pointer);
  return { severity: 'error', file, line: pos.line, col: pos.col, path: displayPath(pointer), message };
}

export function bare(file: string, message: string): Diagnostic {
  return { severity: 'error', file, line: 0, col: 0, path: '', message };
}

export function knownHint(known: string[], name: string): string {
  const guess = didYouMean(name, known);
  return `${guess ? `did you mean '${guess}'? ` : ''}known connections: ${known.join(', ') || 'none'}`;
}
