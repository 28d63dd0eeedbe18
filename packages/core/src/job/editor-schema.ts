import type { PluginRegistry } from '../plugin/registry.js';
import type { PluginKind } from '../plugin/types.js';
import { jobSchema } from './schema.js';

/**
 * One JSON Schema for editors (yaml-language-server): the job structure, with each step's `with`
 * checked against the schema of the plugin its `use` names (descriptions and defaults included,
 * so completion shows them), and `use` offering every plugin of the step's kind; likewise the
 * `checkpoint:` block by its `store` and each connection by its `client`.
 */
export function editorSchema(registry: PluginRegistry): Record<string, unknown> {
  const schema = structuredClone(jobSchema) as unknown as Record<string, any>;
  schema.$schema = 'http://json-schema.org/draft-07/schema#';
  schema.$id = 'https://sluice.dev/schema/sluice.schema.json';
  schema.title = 'Sluice job file';
  const byUse = (kind: PluginKind) => {
    const names = registry.names(kind);
    return {
      allOf: names.map((name) => {
        const def = registry.get(kind, name)!.definition;
        const pluginSchema = def.schema as { required?: unknown[] };
        return {
          if: { properties: { use: { const: name } }, required: ['use'] },
          then: {
            properties: { with: { description: def.description, ...(def.schema as object) } },
            // A plugin with required options needs `with:` at all.
            ...(pluginSchema.required?.length ? { required: ['with'] } : {}),
          },
        };
      }),
      use: {
        anyOf: [
          ...names.map((name) => ({ const: name, description: `${registry.get(kind, name)!.definition.description} (${registry.get(kind, name)!.origin})` })),
          { type: 'string', pattern: '^(\\.{1,2}/|/)', description: 'A path to a module that exports a plugin (./plugins/score.ts).' },
        ],
      },
    };
  };
  const props = schema.properties;
  const byKind = (key: string, defs: ReadonlyArray<{ name: string; description: string; schema: object }>, implicit?: string) => ({
    properties: { [key]: { anyOf: defs.map((def) => ({ const: def.name, description: def.description })) } },
    allOf: defs.map((def) => {
      const own = def.schema as { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: unknown };
      return {
        // The implicit kind (the file store) applies when the key is left out.
        if: def.name === implicit ? { properties: { [key]: { const: def.name } } } : { properties: { [key]: { const: def.name } }, required: [key] },
        then: {
          properties: { [key]: true, ...own.properties },
          ...(own.required?.length ? { required: own.required } : {}),
          ...(own.additionalProperties === false ? { additionalProperties: false } : {}),
        },
      };
    }),
  });
  const stores = byKind('store', registry.checkpointStores(), 'file');
  props.checkpoint.properties.store = { ...props.checkpoint.properties.store, ...stores.properties.store };
  props.checkpoint.allOf = stores.allOf;
  const kinds = byKind('client', registry.connectionKinds());
  const connection = props.connections.additionalProperties;
  connection.properties.client = { ...connection.properties.client, ...kinds.properties.client };
  connection.allOf = kinds.allOf;
  Object.assign(props.source, merge(props.source, byUse('source')));
  Object.assign(props.steps.items, merge(props.steps.items, byUse('transform')));
  Object.assign(props.sink, merge(props.sink, byUse('sink')));
  Object.assign(props.sinks.items, merge(props.sinks.items, byUse('sink')));
  Object.assign(props.deadLetter, merge(props.deadLetter, byUse('sink')));
  return schema;
}

function merge(step: Record<string, any>, extra: { allOf: unknown[]; use: Record<string, unknown> }) {
  return {
    allOf: extra.allOf,
    properties: { ...step.properties, use: { ...step.properties.use, ...extra.use } },
  };
}
