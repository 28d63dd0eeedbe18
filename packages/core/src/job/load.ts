import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { PluginLoadError, importPlugin, isModulePath, loadPluginModule } from '../plugin/resolve.js';
import type { PluginRegistry } from '../plugin/registry.js';
import type { AnyPluginDefinition, PluginKind } from '../plugin/types.js';
import { jobValidator } from './job-validator.js';
import { checkConfigAgainst } from '../plugin/config.js';
import { didYouMean, type Diagnostic } from './diagnostics.js';
import { interpolate } from './interpolate.js';
import { Redactor } from '../events/bus.js';
import type { JobPlan, RetryPolicy, StepPlan } from './plan.js';
import { applySet, fingerprintOf } from './overrides.js';
import { parseDuration, parseFailureBudget, parseRate } from './values.js';
import { placeKind } from './places.js';
import { parseYaml } from './yaml.js';
import { at, bare, Diagnostics } from './collect.js';
import { checkConnectionNames } from './references.js';
import { applyRules, checkCheckpoint, checkConnections } from './extension-points.js';
import type { PlaceOf } from './yaml-errors.js';

export { applySet, fingerprintOf } from './overrides.js';

export interface LoadOptions {
  /** Built-in plugins (and any the host adds); the job's own `plugins:` are added to a copy. */
  readonly registry: PluginRegistry;
  readonly env?: NodeJS.ProcessEnv;
  /** `--set path=value` overrides, applied before validation. */
  readonly sets?: readonly string[];
  /** When false (`sluice validate` without `--strict-env`), a missing env variable is a warning. */
  readonly strictEnv?: boolean;
  /** The file name shown in diagnostics (defaults to the path as given). */
  readonly displayName?: string;
}

export interface LoadResult {
  readonly plan?: JobPlan;
  readonly diagnostics: Diagnostic[];
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 3, initialDelayMs: 200, maxDelayMs: 30_000, multiplier: 2, jitter: true };
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CONCURRENCY = 8;

type Raw = Record<string, unknown>;

/**
 * Loads a job file: YAML with positions → `--set` → interpolation → job schema → plugins and
 * their `with` schemas and rules → expressions. Collects every problem; never runs a plugin's
 * `create` or an expression.
 */
export async function loadJob(file: string, options: LoadOptions): Promise<LoadResult> {
  const name = options.displayName ?? file;
  const path = resolve(file);
  const dir = dirname(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { diagnostics: [bare(name, code === 'ENOENT' ? 'no such file' : `cannot read: ${code ?? String(error)}`)] };
  }
  return loadJobText(text.replace(/^\uFEFF/, ''), { ...options, displayName: name, dir });
}

export async function loadJobText(text: string, options: LoadOptions & { dir: string }): Promise<LoadResult> {
  const file = options.displayName ?? '<job>';
  const placeOf: PlaceOf = (pointer, doc) => placeKind(pointer, (step) => doc.getIn([...step.split('/').slice(1), 'use']), options.registry);
  const yaml = parseYaml(text, file, placeOf);
  const diagnostics: Diagnostic[] = [...yaml.diagnostics];
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  if (!yaml.value || typeof yaml.value !== 'object' || Array.isArray(yaml.value)) {
    return { diagnostics: [at(yaml, file, '', 'a job file must be a YAML mapping (version:, name:, source:, …)')] };
  }

  const d = new Diagnostics(yaml, file, diagnostics);
  let raw = yaml.value as Raw;
  for (const set of options.sets ?? []) {
    const applied = applySet(raw, set);
    if (typeof applied === 'string') d.error('', `--set ${set}: ${applied}`);
    else raw = applied;
  }

  const env = options.env ?? process.env;
  const interpolated = interpolate(raw, { env, dir: options.dir });
  d.redact = new Redactor(interpolated.secrets).redact;
  for (const problem of interpolated.problems) {
    const warn = problem.kind === 'missing-env' && options.strictEnv === false;
    d.add(warn ? 'warning' : 'error', problem.pointer, problem.message, problem.hint);
  }
  const job = interpolated.value as Raw;

  const validateJob = jobValidator();
  if (!validateJob(job)) {
    for (const error of normaliseAjvErrors(validateJob.errors ?? [])) d.ajv(error, '');
  }
  if (job.sink !== undefined && job.sinks !== undefined) d.error('/sinks', 'a job has either sink: or sinks:, not both', 'use sinks: [ … ] for several sinks');
  if (job.sink === undefined && job.sinks === undefined) d.error('', "missing required key 'sink'", 'add sink: { use: file, with: { path: out/result.jsonl } }');
  checkConnectionNames(job, d);
  // Go on to the plugins even when the structure has errors: every problem is reported at once.

  // Plugins named in `plugins:` join a copy of the registry.
  const registry = options.registry.clone();
  for (const [index, spec] of (Array.isArray(job.plugins) ? (job.plugins as unknown[]) : []).entries()) {
    if (typeof spec !== 'string') continue;
    try {
      const loaded = await loadPluginModule(spec, options.dir);
      for (const warning of loaded.warnings) d.add('warning', `/plugins/${index}`, warning);
      for (const problem of registry.add(loaded.exported, loaded.origin)) d.error(`/plugins/${index}`, problem.message, problem.hint);
    } catch (error) {
      d.error(`/plugins/${index}`, (error as Error).message, (error as PluginLoadError).hint);
    }
  }
  // Stores and connection kinds are checked by the schemas of the packages that contribute them.
  const checkpoint = checkCheckpoint(d, job, registry, normaliseAjvErrors);
  checkConnections(d, job, registry, normaliseAjvErrors);

  const defaults = (job.defaults ?? {}) as Raw;
  const usedIds = new Set<string>();
  const steps: StepPlan[] = [];
  const plan = async (pointer: string, step: Raw, kind: PluginKind, defaultId: string): Promise<StepPlan | undefined> => {
    if (!step || typeof step !== 'object' || Array.isArray(step) || typeof step.use !== 'string') return undefined;
    const plugin = await resolveStepPlugin(d, registry, options.dir, `${pointer}/use`, String(step.use), kind);
    let id = typeof step.id === 'string' ? step.id : defaultId;
    if (typeof step.id === 'string' && usedIds.has(id)) d.error(`${pointer}/id`, `step id '${id}' is used twice`);
    for (let n = 2; usedIds.has(id); n++) id = `${defaultId}-${n}`;
    usedIds.add(id);
    const written = (step.with ?? {}) as Raw;
    const config = plugin && written && typeof written === 'object' && !Array.isArray(written) ? checkWith(d, `${pointer}/with`, plugin, written) : written;
    if (!plugin) return undefined;
    const setting = (key: string) => (step[key] !== undefined ? step[key] : defaults[key]);
    const retry = { ...((defaults.retry as Raw) ?? {}), ...((step.retry as Raw) ?? {}) };
    const rate = setting('rateLimit');
    return {
      id,
      kind,
      pointer,
      use: String(step.use),
      plugin,
      config,
      when: typeof step.when === 'string' ? step.when : undefined,
      concurrency: (setting('concurrency') as number | undefined) ?? DEFAULT_CONCURRENCY,
      retry: {
        attempts: (retry.attempts as number | undefined) ?? DEFAULT_RETRY.attempts,
        initialDelayMs: parseDuration(retry.initialDelay) ?? DEFAULT_RETRY.initialDelayMs,
        maxDelayMs: parseDuration(retry.maxDelay) ?? DEFAULT_RETRY.maxDelayMs,
        multiplier: (retry.multiplier as number | undefined) ?? DEFAULT_RETRY.multiplier,
        jitter: (retry.jitter as boolean | undefined) ?? DEFAULT_RETRY.jitter,
        on: retry.on as Array<string | number> | undefined,
      },
      timeoutMs: parseDuration(setting('timeout')) ?? DEFAULT_TIMEOUT_MS,
      rate: rate === undefined ? undefined : parseRate(rate),
      onError: ((setting('onError') as StepPlan['onError'] | undefined) ?? 'fail'),
    };
  };

  const source = await plan('/source', job.source as Raw, 'source', 'source');
  for (const [index, step] of (Array.isArray(job.steps) ? (job.steps as Raw[]) : []).entries()) {
    const planned = await plan(`/steps/${index}`, step, 'transform', String(step?.use).replace(/^.*\//, '').replace(/\.[cm]?[tj]s$/, ''));
    if (planned) steps.push(planned);
  }
  const sinkList = Array.isArray(job.sinks) ? (job.sinks as Raw[]).map((s, i) => [`/sinks/${i}`, s] as const) : [['/sink', job.sink as Raw] as const];
  const sinks: StepPlan[] = [];
  for (const [pointer, sink] of sinkList) {
    const planned = await plan(pointer, sink, 'sink', 'sink');
    if (planned) sinks.push(planned);
  }
  const jobName = typeof job.name === 'string' && /^[a-z0-9][a-z0-9-]*$/.test(job.name) ? job.name : 'job';
  const deadLetterRaw = (job.deadLetter as Raw | undefined) ?? { use: 'file', with: { path: `.sluice/dead-letter/${jobName}.jsonl` } };
  const deadLetter = await plan('/deadLetter', { ...deadLetterRaw, id: 'deadLetter', onError: 'fail' }, 'sink', 'deadLetter');

  sortByPlace(diagnostics);
  if (d.hasErrors() || !source || !deadLetter || !checkpoint) return { diagnostics };
  const batch = (job.batch ?? {}) as Raw;
  return {
    diagnostics,
    plan: {
      file: options.displayName ?? '<job>',
      dir: options.dir,
      name: jobName,
      description: job.description as string | undefined,
      batch: { size: (batch.size as number | undefined) ?? 1000, inFlight: (batch.inFlight as number | undefined) ?? 4, ...(batch.size === undefined ? { grow: true } : {}) },
      checkpoint,
      container: registry.container,
      connections: (job.connections ?? {}) as JobPlan['connections'],
      source,
      steps,
      sinks,
      deadLetter,
      maxFailed: job.errors ? parseFailureBudget((job.errors as Raw).maxFailed) : undefined,
      fingerprint: fingerprintOf(raw),
      secrets: interpolated.secrets,
      env,
    },
  };
}

/** Resolves a step's `use` to a plugin of the right kind, reporting what is wrong and what exists. */
async function resolveStepPlugin(
  d: Diagnostics,
  registry: PluginRegistry,
  dir: string,
  pointer: string,
  use: string,
  kind: PluginKind,
): Promise<AnyPluginDefinition | undefined> {
  if (isModulePath(use)) {
    if (!registry.get(kind, use)) {
      try {
        const exported = await importPlugin(use, dir);
        const defs = (Array.isArray(exported) ? exported : [exported]) as AnyPluginDefinition[];
        const problems = registry.checkModule(exported, use);
        if (problems.length) return void problems.forEach((p) => d.error(pointer, p));
        const match = defs.find((def) => def.kind === kind);
        if (!match) return void d.error(pointer, `${use} exports no ${kind} plugin (it has: ${defs.map((x) => `${x.kind} '${x.name}'`).join(', ')})`);
        // Registered under its path, so a module used by several steps is loaded once.
        registry.registerAs(use, match, use);
        return match;
      } catch (error) {
        return void d.error(pointer, (error as Error).message, (error as PluginLoadError).hint);
      }
    }
    return registry.get(kind, use)!.definition;
  }
  const found = registry.get(kind, use);
  if (found) return found.definition;
  const otherKinds = registry.kindsOf(use);
  if (otherKinds.length) {
    d.error(pointer, `'${use}' is not a ${kind} plugin; it is a ${otherKinds.join(' and ')} plugin`, `${kind} plugins: ${registry.names(kind).join(', ')}`);
    return undefined;
  }
  const known = registry.names(kind);
  const guess = didYouMean(use, known);
  d.error(
    pointer,
    `unknown ${kind} plugin '${use}'${guess ? `; did you mean '${guess}'?` : ''} known: ${known.join(', ') || 'none'}`,
    'plugins from npm go in plugins: [package-name]; a local module is use: ./path/to/plugin.ts',
  );
  return undefined;
}

/** Checks a step's `with` (schema, then rules on what was written); returns it with the schema's defaults filled in. */
function checkWith(d: Diagnostics, pointer: string, plugin: AnyPluginDefinition, written: Raw): Raw {
  const checked = checkConfigAgainst(plugin.schema as object, written);
  if (!checked.valid) {
    for (const error of normaliseAjvErrors(checked.errors)) d.ajv(error, pointer);
    return written;
  }
  applyRules(d, pointer, plugin.rules, written);
  return checked.config;
}

/** Drops ajv's follow-on noise (the `if`/`anyOf` wrappers) so each problem is said once. */
function normaliseAjvErrors(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  const out: ErrorObject[] = [];
  const typed = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  for (const error of errors) {
    if (error.keyword === 'if' || error.keyword === 'anyOf' || error.keyword === 'oneOf') continue;
    // A value of the wrong type also fails its custom keyword; say the type problem only.
    if (error.keyword !== 'type' && typed.has(error.instancePath) && error.keyword !== 'required') continue;
    const key = `${error.instancePath}|${error.keyword}|${error.message}|${JSON.stringify(error.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(error);
  }
  return out;
}

/** In file order, so a reader fixes them top to bottom (the sort is stable: equal places keep their order). */
function sortByPlace(diagnostics: Diagnostic[]): void {
  diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);
}
