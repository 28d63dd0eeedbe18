// The generated validator modules of the sluice command (packages/cli/src/validators/): one per
// built-in package, for the option schemas of its plugins, stores and connection kinds, and one
// for core's own checkpoint stores. Read from the build (npx tsc -b first). Written by
// generate-validators.mjs; test/precompiled-validators.test.ts fails while one is stale.
import { fileURLToPath } from 'node:url';
import { PluginRegistry } from '../packages/core/dist/internal.js';
import { optionValidatorsSource } from '../packages/core/dist/job/standalone.js';
import { BUILT_IN_CONTENTS } from '../packages/cli/dist/builtin-contents.js';
import { optionSchemasOf } from '../packages/cli/dist/precompiled.js';

const dir = new URL('../packages/cli/src/validators/', import.meta.url);

/** [path, text] of each module, in a stable order. */
export async function validatorSources() {
  const out = [[fileURLToPath(new URL('core.generated.ts', dir)), optionValidatorsSource("@sluice/core's checkpoint stores", optionSchemasOf(new PluginRegistry().checkpointStores()))]];
  for (const pkg of BUILT_IN_CONTENTS) {
    const file = `${pkg.name.replace('@sluice/', '')}.generated.ts`;
    out.push([fileURLToPath(new URL(file, dir)), optionValidatorsSource(pkg.name, optionSchemasOf((await pkg.load()).default))]);
  }
  return out;
}
