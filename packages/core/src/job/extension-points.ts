// The parts of a job file whose schema comes from the package that contributes them: the
// `checkpoint:` block (a store kind) and each entry of `connections:` (a connection kind).
import type { ErrorObject } from 'ajv';
import type { CheckpointConfig } from '../plugin/extensions.js';
import type { PluginRegistry } from '../plugin/registry.js';
import type { RuleViolation } from '../plugin/types.js';
import { checkConfigAgainst } from '../plugin/config.js';
import { didYouMean } from './diagnostics.js';
import type { Diagnostics } from './collect.js';

type Raw = Record<string, unknown>;

const isMapping = (value: unknown): value is Raw => value !== null && typeof value === 'object' && !Array.isArray(value);
const PACKAGE_HINT = 'stores and connection kinds come from plugin packages; name the package that adds it in plugins: [package-name]';

/**
 * Checks `checkpoint:` against the schema of the store it names (default `file`) and returns it
 * with that store's defaults filled in, or undefined when it is wrong.
 */
export function checkCheckpoint(d: Diagnostics, job: Raw, registry: PluginRegistry, ajvErrors: (errors: ErrorObject[]) => ErrorObject[]): CheckpointConfig | undefined {
  const block = job.checkpoint === undefined ? {} : job.checkpoint;
  if (!isMapping(block)) return undefined; // the job schema says so
  const { store = 'file', ...options } = block;
  if (typeof store !== 'string') return undefined;
  const def = registry.checkpointStore(store);
  if (!def) {
    const known = registry.checkpointStores().map((s) => s.name);
    const guess = didYouMean(store, known);
    d.error('/checkpoint/store', `unknown checkpoint store '${store}'${guess ? `; did you mean '${guess}'?` : ''} known: ${known.join(', ')}`, PACKAGE_HINT);
    return undefined;
  }
  const checked = checkOptions(d, '/checkpoint', def.schema as object, options, ajvErrors);
  if (!checked || !applyRules(d, '/checkpoint', def.rules, options)) return undefined;
  return { store, ...checked };
}

/** Checks each entry of `connections:` against the schema of its `client`, filling in defaults. */
export function checkConnections(d: Diagnostics, job: Raw, registry: PluginRegistry, ajvErrors: (errors: ErrorObject[]) => ErrorObject[]): void {
  if (!isMapping(job.connections)) return;
  for (const [name, entry] of Object.entries(job.connections)) {
    if (!isMapping(entry) || typeof entry.client !== 'string') continue;
    const pointer = `/connections/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const kind = registry.connectionKind(entry.client);
    if (!kind) {
      const known = registry.connectionKinds().map((k) => k.name);
      const guess = didYouMean(entry.client, known);
      d.error(`${pointer}/client`, `unknown client '${entry.client}'${guess ? `; did you mean '${guess}'?` : ''} known: ${known.join(', ') || 'none'}`, PACKAGE_HINT);
      continue;
    }
    const { client, ...options } = entry;
    const checked = checkOptions(d, pointer, kind.schema as object, options, ajvErrors);
    if (checked) Object.assign(entry, checked, { client });
  }
}

/** The options with their defaults, or undefined when they are wrong (reported). */
function checkOptions(d: Diagnostics, pointer: string, schema: object, options: Raw, ajvErrors: (errors: ErrorObject[]) => ErrorObject[]): Raw | undefined {
  const checked = checkConfigAgainst(schema, options);
  if (checked.valid) return checked.config;
  for (const error of ajvErrors(checked.errors)) d.ajv(error, pointer);
  return undefined;
}

/** Runs cross-field rules (a plugin's or a store's) and reports what they find under `pointer`. */
export function applyRules(d: Diagnostics, pointer: string, rules: ReadonlyArray<(config: never) => RuleViolation | RuleViolation[] | undefined> | undefined, config: Raw): boolean {
  let ok = true;
  for (const rule of rules ?? []) {
    let violations;
    try {
      violations = rule(config as never);
    } catch (error) {
      violations = { message: `rule failed: ${(error as Error).message}` };
    }
    for (const v of violations === undefined ? [] : Array.isArray(violations) ? violations : [violations]) {
      const sub = v.path ? '/' + v.path.split('.').join('/') : '';
      d.error(`${pointer}${sub}`, v.message, v.hint);
      ok = false;
    }
  }
  return ok;
}
