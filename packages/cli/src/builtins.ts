import * as emailPlugins from '@sluice/plugin-email';
import * as filePlugins from '@sluice/plugin-file';
import * as httpPlugins from '@sluice/plugin-http';
import * as sqlPlugins from '@sluice/plugin-sql';
import * as redisPlugins from '@sluice/plugin-redis';
import * as transformPlugins from '@sluice/plugin-transforms';
import { PluginRegistry, type CheckpointStoreFactory } from '@sluice/core/internal';

/** A plugin package as Sluice loads it: plugins as the default export, optional checkpoint stores. */
interface PluginPackage {
  readonly default: unknown;
  readonly checkpointStores?: Readonly<Record<string, CheckpointStoreFactory>>;
}

const BUILT_IN: ReadonlyArray<readonly [PluginPackage, string]> = [
  [filePlugins, '@sluice/plugin-file'],
  [transformPlugins, '@sluice/plugin-transforms'],
  [sqlPlugins as PluginPackage, '@sluice/plugin-sql'],
  [httpPlugins as PluginPackage, '@sluice/plugin-http'],
  [emailPlugins as PluginPackage, '@sluice/plugin-email'],
  [redisPlugins as PluginPackage, '@sluice/plugin-redis'],
];

/** The packages whose plugins (and checkpoint stores) come with the CLI. */
export const BUILT_IN_PACKAGES: readonly string[] = BUILT_IN.map(([, name]) => name);

/** The plugins every job can use without naming them in `plugins:`. */
export function builtInRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const [pkg, origin] of BUILT_IN) {
    if (Array.isArray(pkg.default) && pkg.default.length === 0) continue;
    const problems = registry.addModule(pkg.default, origin);
    if (problems.length) throw new Error(problems.join('; '));
  }
  return registry;
}

/** Checkpoint stores the built-in packages add to `file` and `none`. */
export function builtInCheckpointStores(): Record<string, CheckpointStoreFactory> {
  return Object.assign({}, ...BUILT_IN.map(([pkg]) => pkg.checkpointStores ?? {}));
}
