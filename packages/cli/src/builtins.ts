import * as emailPlugins from '@sluice/plugin-email';
import * as filePlugins from '@sluice/plugin-file';
import * as httpPlugins from '@sluice/plugin-http';
import * as sqlPlugins from '@sluice/plugin-sql';
import * as redisPlugins from '@sluice/plugin-redis';
import * as transformPlugins from '@sluice/plugin-transforms';
import { PluginRegistry } from '@sluice/core/internal';
import { usePrecompiled } from './precompiled.js';
import * as coreValidators from './validators/core.generated.js';
import * as emailValidators from './validators/plugin-email.generated.js';
import * as fileValidators from './validators/plugin-file.generated.js';
import * as httpValidators from './validators/plugin-http.generated.js';
import * as redisValidators from './validators/plugin-redis.generated.js';
import * as sqlValidators from './validators/plugin-sql.generated.js';
import * as transformValidators from './validators/plugin-transforms.generated.js';

/** A plugin package as Sluice loads it: its plugins, checkpoint stores and connection kinds as the default export. */
interface PluginPackage {
  readonly default: unknown;
}

const BUILT_IN: ReadonlyArray<readonly [PluginPackage, string]> = [
  [filePlugins, '@sluice/plugin-file'],
  [transformPlugins, '@sluice/plugin-transforms'],
  [sqlPlugins as PluginPackage, '@sluice/plugin-sql'],
  [httpPlugins as PluginPackage, '@sluice/plugin-http'],
  [emailPlugins as PluginPackage, '@sluice/plugin-email'],
  [redisPlugins as PluginPackage, '@sluice/plugin-redis'],
];

/** The packages whose plugins, stores and connection kinds come with the CLI. */
export const BUILT_IN_PACKAGES: readonly string[] = BUILT_IN.map(([, name]) => name);

/** The plugins every job can use without naming them in `plugins:`. */
export function builtInRegistry(): PluginRegistry {
  // Their option schemas' validators, generated at build time (precompiled.ts).
  usePrecompiled([coreValidators, fileValidators, transformValidators, sqlValidators, httpValidators, emailValidators, redisValidators]);
  const registry = new PluginRegistry();
  for (const [pkg, origin] of BUILT_IN) {
    if (Array.isArray(pkg.default) && pkg.default.length === 0) continue;
    const problems = registry.addModule(pkg.default, origin);
    if (problems.length) throw new Error(problems.join('; '));
  }
  return registry;
}
