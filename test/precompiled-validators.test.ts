import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileSchema, PluginRegistry, precompiledValidator, ajvOptions, sluiceAjv } from '@sluice/core/internal';
import { BUILT_IN_CONTENTS } from '../packages/cli/src/builtin-contents.js';
import { builtInRegistry } from '../packages/cli/src/builtins.js';
import { corePrecompiled, optionSchemasOf, usePrecompiled } from '../packages/cli/src/precompiled.js';
// Reads the build: `npm test` runs tsc -b first.
import { validatorSources } from '../scripts/validator-sources.mjs';

/** Every option schema the sluice command ships a generated validator for, by package. */
const packages: Array<[string, object[]]> = [
  ['@sluice/core', optionSchemasOf(new PluginRegistry().checkpointStores())],
  ...(await Promise.all(BUILT_IN_CONTENTS.map(async (p) => [p.name, optionSchemasOf((await p.load()).default)] as [string, object[]]))),
];
usePrecompiled([await corePrecompiled(), ...(await Promise.all(BUILT_IN_CONTENTS.map((p) => p.validators())))]);

const schemas = packages.flatMap(([name, list]) => list.map((schema, i) => [`${name} #${i + 1}`, schema] as const));

/** Options a user might write: none, an unknown key, and each property given each wrong-or-right kind of value. */
function configsFor(schema: object): unknown[] {
  const properties = Object.keys((schema as { properties?: object }).properties ?? {});
  const values = [null, 12345, -1, 'x', '', [], ['a'], {}, true, '${env:X}', 'a/b.csv'];
  const examples = ((schema as { examples?: unknown[] }).examples ?? []) as unknown[];
  return [{}, { __unknown: 1 }, 'not a mapping', ...examples, ...properties.flatMap((p) => values.map((v) => ({ [p]: v })))];
}

describe('validators generated at build time for the built-in option schemas', () => {
  it('are what the generator makes of the current schemas and ajv (else: node scripts/generate-validators.mjs)', async () => {
    for (const [path, text] of await validatorSources()) expect(readFileSync(path, 'utf8'), path).toBe(text);
  });

  it('cover every option schema of core and of each built-in package: plugins, stores, connection kinds', () => {
    const registry = builtInRegistry();
    const defs = [...registry.all().map((p) => p.definition), ...registry.checkpointStores(), ...registry.connectionKinds()];
    expect(defs.length).toBe(schemas.length);
    for (const def of defs) expect(precompiledValidator(def.schema as object, ajvOptions(true)), `${def.kind} ${def.name}`).toBeTypeOf('function');
  });

  it.each(schemas)('judge %s as ajv compiling it now does: validity, errors, defaults filled in', (_name, schema) => {
    const generated = precompiledValidator(schema, ajvOptions(true))!;
    const compiled = sluiceAjv(true).compile(schema);
    expect(generated).not.toBe(compiled);
    for (const config of configsFor(schema)) {
      const a = structuredClone(config);
      const b = structuredClone(config);
      expect(generated(a), JSON.stringify(config)).toBe(compiled(b));
      expect(generated.errors ?? null).toEqual(compiled.errors ?? null);
      expect(a).toEqual(b);
    }
  });

  it('are what compileSchema hands out for those schemas', () => {
    for (const [name, schema] of schemas) expect(compileSchema(schema, true), name).toBe(precompiledValidator(schema, ajvOptions(true)));
  });

  it('are not used for a schema that differs from the one they were made from: it is compiled, with its own default', () => {
    const fileStore = packages[0]![1][0] as { properties: { path: object } };
    const changed = { ...fileStore, properties: { path: { ...fileStore.properties.path, default: 'elsewhere' } } };
    expect(precompiledValidator(changed, ajvOptions(true))).toBeUndefined();
    const config: Record<string, unknown> = {};
    expect(compileSchema(changed, true)(config)).toBe(true);
    expect(config.path).toBe('elsewhere');
  });

  it('are not used by an ajv without defaults (the options are part of what they were made from)', () => {
    expect(precompiledValidator(schemas[0]![1], ajvOptions(false))).toBeUndefined();
  });
});
