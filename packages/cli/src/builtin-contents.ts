import { PluginRegistry, parseYaml } from '@sluice/core/internal';
import { corePrecompiled, usePrecompiled, type PrecompiledModule } from './precompiled.js';

/**
 * What each built-in package contributes, by kind and name — enough to import only the packages a
 * job names (`sluice run` of a file-to-file job need not load the sql, http, email, transforms and
 * redis packages). test/builtins.test.ts checks this list against the packages' real exports.
 */
export const BUILT_IN_CONTENTS: ReadonlyArray<{
  readonly name: string;
  readonly load: () => Promise<{ default: unknown }>;
  /** The validators generated for its option schemas at build time (precompiled.ts). */
  readonly validators: () => Promise<PrecompiledModule>;
  readonly source: readonly string[];
  readonly transform: readonly string[];
  readonly sink: readonly string[];
  readonly checkpointStore: readonly string[];
  readonly connection: readonly string[];
}> = [
  { name: '@sluice/plugin-file', load: () => import('@sluice/plugin-file'), validators: () => import('./validators/plugin-file.generated.js'), source: ['file'], transform: [], sink: ['file'], checkpointStore: [], connection: [] },
  { name: '@sluice/plugin-transforms', load: () => import('@sluice/plugin-transforms'), validators: () => import('./validators/plugin-transforms.generated.js'), source: [], transform: ['dedupe', 'filter', 'map', 'validate'], sink: [], checkpointStore: [], connection: [] },
  { name: '@sluice/plugin-sql', load: () => import('@sluice/plugin-sql'), validators: () => import('./validators/plugin-sql.generated.js'), source: ['sql'], transform: [], sink: ['sql'], checkpointStore: ['sql'], connection: ['better-sqlite3', 'mysql2', 'pg'] },
  { name: '@sluice/plugin-http', load: () => import('@sluice/plugin-http'), validators: () => import('./validators/plugin-http.generated.js'), source: ['http'], transform: ['http'], sink: ['http'], checkpointStore: [], connection: [] },
  { name: '@sluice/plugin-email', load: () => import('@sluice/plugin-email'), validators: () => import('./validators/plugin-email.generated.js'), source: [], transform: [], sink: ['email'], checkpointStore: [], connection: [] },
  { name: '@sluice/plugin-redis', load: () => import('@sluice/plugin-redis'), validators: () => import('./validators/plugin-redis.generated.js'), source: [], transform: [], sink: [], checkpointStore: ['redis'], connection: [] },
];

type Kind = 'source' | 'transform' | 'sink' | 'checkpointStore' | 'connection';
type Raw = Record<string, unknown>;
const mapping = (v: unknown): v is Raw => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The (kind, name) pairs a job file names, or undefined when it cannot be told from the text alone
 * (a YAML error, `${…}` in a name, a `plugins:` list): then every package is needed.
 */
export function namesUsed(text: string): Array<[Kind, string]> | undefined {
  const { value, diagnostics } = parseYaml(text, 'job');
  if (diagnostics.length || !mapping(value) || value.plugins !== undefined) return undefined;
  const used: Array<[Kind, unknown]> = [];
  const step = (kind: Kind, s: unknown) => used.push([kind, mapping(s) ? s.use : undefined]);
  step('source', value.source);
  for (const s of Array.isArray(value.steps) ? value.steps : []) step('transform', s);
  if (value.sink !== undefined) step('sink', value.sink);
  for (const s of Array.isArray(value.sinks) ? value.sinks : []) step('sink', s);
  used.push(['sink', mapping(value.deadLetter) ? value.deadLetter.use : 'file']);
  used.push(['checkpointStore', mapping(value.checkpoint) && value.checkpoint.store !== undefined ? value.checkpoint.store : 'file']);
  for (const c of mapping(value.connections) ? Object.values(value.connections) : []) if (mapping(c) && c.client !== undefined) used.push(['connection', c.client]);
  if (!used.every(([, name]) => typeof name === 'string' && !name.includes('${'))) return undefined;
  return used as Array<[Kind, string]>;
}

/**
 * A registry of the built-in packages `text` needs, or undefined when it needs them all (a name
 * none of them has under that kind: the loader's message lists every known one).
 */
export async function registryFor(text: string): Promise<PluginRegistry | undefined> {
  const used = namesUsed(text);
  if (!used) return undefined;
  const packages = new Set<(typeof BUILT_IN_CONTENTS)[number]>();
  for (const [kind, name] of used) {
    if ((kind === 'checkpointStore' && (name === 'file' || name === 'none')) || /^(\.{1,2}\/|\/)/.test(name)) continue; // core's own, or a module path
    const pkg = BUILT_IN_CONTENTS.find((p) => p[kind].includes(name));
    if (!pkg) return undefined;
    packages.add(pkg);
  }
  const registry = new PluginRegistry();
  const needed = BUILT_IN_CONTENTS.filter((p) => packages.has(p));
  usePrecompiled(await Promise.all([corePrecompiled(), ...needed.map((p) => p.validators())]));
  for (const pkg of needed) {
    const problems = registry.addModule((await pkg.load()).default, pkg.name);
    if (problems.length) throw new Error(problems.join('; '));
  }
  return registry;
}
