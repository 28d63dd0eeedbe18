import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import plugins, { dedupe, filter, map, validate } from './index.js';

type PropertySchema = Record<string, unknown> & { examples?: unknown[]; default?: unknown };

// Seen loosely: the union of the four schema-typed definitions is too deep for the compiler (TS2589).
const all = plugins as unknown as ReadonlyArray<{ name: string; kind: string; schema: unknown }>;

// Sluice's own keywords (`expression`, `template`) are not JSON Schema; ignore them here.
const ajv = new Ajv({ strict: false });

describe('@sluice/plugin-transforms', () => {
  it('exports its plugins as the default array and by name', () => {
    const named: unknown[] = [map as unknown, filter as unknown, validate as unknown, dedupe as unknown];
    expect(all).toEqual(named);
    named.forEach((plugin, i) => expect(all[i]).toBe(plugin));
    expect(all.map((p) => [p.name, p.kind])).toEqual([
      ['map', 'transform'],
      ['filter', 'transform'],
      ['validate', 'transform'],
      ['dedupe', 'transform'],
    ]);
  });

  describe.each(all.map((p) => [p.name, p] as const))('%s schema', (_name, plugin) => {
    const schema = plugin.schema as unknown as { type: string; properties: Record<string, PropertySchema>; required?: string[]; additionalProperties: unknown };

    it('is a closed object', () => {
      expect(schema.type).toBe('object');
      expect(schema.additionalProperties).toBe(false);
      expect(ajv.validateSchema(schema)).toBe(true);
    });

    it.each(Object.keys(schema.properties))('documents %s, and its examples and default fit it', (key) => {
      const property = schema.properties[key]!;
      expect(property.description).toEqual(expect.any(String));
      expect(property.examples?.length).toBeGreaterThan(0);
      // A default, or required, or one of a pair a rule chooses between (validate's schema/schemaFile).
      const oneOfAPair = plugin.name === 'validate' && (key === 'schema' || key === 'schemaFile');
      expect('default' in property || schema.required?.includes(key) || oneOfAPair).toBe(true);
      const check = ajv.compile(property);
      for (const value of [...(property.examples ?? []), ...('default' in property ? [property.default] : [])]) {
        expect(check(value), JSON.stringify(value)).toBe(true);
      }
    });
  });
});
