// Loads the plugin module `crashTest` tests, the same way in the test's process (to read sinks
// back) and in its child (to run them): its default export's plugins and its checkpoint stores.
import { pathToFileURL } from 'node:url';
import type { CheckpointStoreFactory } from '../engine/run.js';
import type { AnyPluginDefinition } from '../plugin/types.js';

export interface LoadedModule {
  readonly plugins: AnyPluginDefinition[];
  readonly checkpointStores: Record<string, CheckpointStoreFactory>;
}

/** Imports `path` (TypeScript through jiti, as `use: ./plugin.ts` is). */
export async function loadModule(path: string): Promise<LoadedModule> {
  let mod: Record<string, unknown>;
  if (/\.(m|c)?ts$/.test(path)) {
    const { createJiti } = await import('jiti');
    mod = (await createJiti(import.meta.url, { interopDefault: false, moduleCache: true }).import(path)) as Record<string, unknown>;
  } else {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
  const exported = 'default' in mod ? mod.default : mod;
  const plugins = (Array.isArray(exported) ? exported : [exported]) as AnyPluginDefinition[];
  return { plugins, checkpointStores: (mod.checkpointStores as Record<string, CheckpointStoreFactory> | undefined) ?? {} };
}
