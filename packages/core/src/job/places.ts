// Which places of a job hold expressions or templates, read from the schemas that mark them.
import type { PluginRegistry } from '../plugin/registry.js';
import type { PluginKind } from '../plugin/types.js';
import { jobSchema } from './schema.js';

export type PlaceKind = 'expression' | 'template';

type Schema = Readonly<Record<string, unknown>>;

/** The step a pointer is inside: its pointer, its kind and the rest of the path. */
export function stepOf(pointer: string): { step: string; kind: PluginKind; rest: string[] } | undefined {
  const parts = pointer.split('/').slice(1);
  const [first, second] = parts;
  if (first === 'source') return { step: '/source', kind: 'source', rest: parts.slice(1) };
  if ((first === 'sink' || first === 'deadLetter') && parts.length >= 1) return { step: `/${first}`, kind: 'sink', rest: parts.slice(1) };
  if ((first === 'steps' || first === 'sinks') && second !== undefined && /^\d+$/.test(second)) {
    return { step: `/${first}/${second}`, kind: first === 'steps' ? 'transform' : 'sink', rest: parts.slice(2) };
  }
  return undefined;
}

/**
 * Whether `pointer` (`/steps/0/with/where`) is an expression or a template, by the job schema and,
 * under `with`, the schema of the plugin the step uses (`useOf` reads its `use`).
 */
export function placeKind(pointer: string, useOf: (step: string) => unknown, registry: PluginRegistry): PlaceKind | undefined {
  const inStep = stepOf(pointer);
  if (!inStep) return kindOf(walk(jobSchema, pointer.split('/').slice(1)));
  const { step, kind, rest } = inStep;
  if (rest[0] === 'with') {
    const use = useOf(step);
    const plugin = typeof use === 'string' ? registry.get(kind, use) : undefined;
    return plugin ? kindOf(walk(plugin.definition.schema as Schema, rest.slice(1))) : undefined;
  }
  return kindOf(walk(jobSchema.properties.source as Schema, rest));
}

function kindOf(schema: Schema | undefined): PlaceKind | undefined {
  if (schema?.expression === true) return 'expression';
  if (schema?.template === true) return 'template';
  return undefined;
}

function walk(schema: Schema | undefined, segments: readonly string[]): Schema | undefined {
  if (!schema || segments.length === 0) return schema;
  const [segment, ...rest] = segments as [string, ...string[]];
  const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
  const properties = schema.properties as Record<string, Schema> | undefined;
  const candidates: Array<Schema | undefined> = [
    properties?.[key],
    typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as Schema) : undefined,
    /^\d+$/.test(key) && typeof schema.items === 'object' ? (schema.items as Schema) : undefined,
  ];
  for (const found of candidates) if (found) return walk(found, rest);
  // A choice of shapes: the first that knows the path.
  for (const keyword of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const option of (schema[keyword] as Schema[] | undefined) ?? []) {
      const found = walk(option, segments);
      if (found) return found;
    }
  }
  return undefined;
}
