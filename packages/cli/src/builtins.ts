import filePlugins from '@sluice/plugin-file';
import transformPlugins from '@sluice/plugin-transforms';
import { PluginRegistry } from '@sluice/core/internal';

/** The plugins every job can use without naming them in `plugins:`. */
export function builtInRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const [exported, origin] of [
    [filePlugins, '@sluice/plugin-file'],
    [transformPlugins, '@sluice/plugin-transforms'],
  ] as const) {
    const problems = registry.addModule(exported, origin);
    if (problems.length) throw new Error(problems.join('; '));
  }
  return registry;
}
