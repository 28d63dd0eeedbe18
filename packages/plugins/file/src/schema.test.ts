import { describe, expect, it } from 'vitest';
import plugins, { fileSink, fileSource } from './index.js';

type Schema = { type?: string; properties?: Record<string, Schema>; additionalProperties?: boolean; description?: string; examples?: unknown[]; default?: unknown; required?: readonly string[] };

/** Every option documents itself: a description and examples; objects are closed. */
function problems(schema: Schema, path: string): string[] {
  const found: string[] = [];
  if (schema.properties) {
    if (schema.additionalProperties !== false) found.push(`${path || '(root)'}: additionalProperties must be false`);
    for (const [name, property] of Object.entries(schema.properties)) {
      const at = path ? `${path}.${name}` : name;
      if (!property.description) found.push(`${at}: no description`);
      if (!property.examples?.length) found.push(`${at}: no examples`);
      found.push(...problems(property, at));
    }
  }
  return found;
}

describe('file plugin definitions', () => {
  it('exports the source and the sink, both named file', () => {
    expect(plugins).toEqual([fileSource, fileSink]);
    expect(plugins.map((p) => [p.name, p.kind])).toEqual([
      ['file', 'source'],
      ['file', 'sink'],
    ]);
  });

  it.each([
    ['source', fileSource.schema],
    ['sink', fileSink.schema],
  ])('the %s schema documents every option', (_, schema) => {
    expect(problems(schema as Schema, '')).toEqual([]);
  });
});
