import { addPrecompiledValidators, type PrecompiledMaker } from '@sluice/core/internal';

/** A module scripts/generate-validators.mjs writes: an option schema's fingerprint → its validator's maker. */
export interface PrecompiledModule {
  readonly VALIDATORS: Readonly<Record<string, PrecompiledMaker>>;
}

/**
 * The option schemas of a package's default export (plugins, checkpoint stores, connection kinds):
 * what compileSchema(schema, true) checks a job's `with`, `checkpoint:` and `connections:` against.
 * The generator writes their validators; test/precompiled-validators.test.ts checks them.
 */
export function optionSchemasOf(exported: unknown): object[] {
  const all = Array.isArray(exported) ? exported : [exported];
  return all.flatMap((def: { schema?: unknown }) => (def !== null && typeof def === 'object' && typeof def.schema === 'object' && def.schema !== null ? [def.schema] : []));
}

/**
 * The validators generated for the option schemas of core's own checkpoint stores (file, none),
 * which every job checks: with them and its packages' (builtin-contents.ts), a run of built-in
 * plugins neither loads ajv nor compiles a schema (bench/results/startup-2026-12-02.md).
 */
export const corePrecompiled = (): Promise<PrecompiledModule> => import('./validators/core.generated.js');

/** Makes the validators of these modules the ones compileSchema uses for their schemas. */
export function usePrecompiled(modules: readonly PrecompiledModule[]): void {
  for (const m of modules) addPrecompiledValidators(m.VALIDATORS);
}
