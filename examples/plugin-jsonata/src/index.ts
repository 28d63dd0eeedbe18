import jsonata from 'jsonata';
import { defineTransform, RecordError, type ConfigOf, type RuleViolation, type SluiceRecord } from '@sluice/core';

/** The options of `use: jsonata`. */
export const schema = {
  type: 'object',
  properties: {
    expression: {
      type: 'string',
      minLength: 1,
      description:
        'A JSONata expression evaluated against each record (https://jsonata.org). Without `into`, its ' +
        'result replaces the record: an object is the new record, an array of objects several records, ' +
        'and no result drops the record (counted as filtered).',
      examples: ['{ "id": id, "total": $sum(items.(price * qty)) }', 'items.{ "order": %.id, "sku": sku }'],
    },
    into: {
      type: 'string',
      minLength: 1,
      description: 'Store the result in this field of the record instead of replacing the record.',
      examples: ['total'],
    },
    bindings: {
      type: 'object',
      additionalProperties: { type: ['string', 'number', 'boolean'] },
      description: 'Values the expression can read as $name (e.g. a rate or a label).',
      default: {},
      examples: [{ rate: 1.21 }],
    },
  },
  required: ['expression'],
  additionalProperties: false,
} as const;

/** The config `create` receives, inferred from the schema. */
export type JsonataConfig = ConfigOf<typeof schema>;

/** The expression parses (it is not run): a typo fails `sluice validate`, not the third hour of a job. */
export function expressionParses(config: JsonataConfig): RuleViolation | undefined {
  try {
    jsonata(config.expression);
    return undefined;
  } catch (error) {
    const e = error as { message?: string; position?: number };
    return { path: 'expression', message: `invalid JSONata${e.position !== undefined ? ` at ${e.position}` : ''}: ${e.message}` };
  }
}

const isRecord = (value: unknown): value is SluiceRecord => value !== null && typeof value === 'object' && !Array.isArray(value);

const plugin = defineTransform({
  name: 'jsonata',
  description: 'Reshapes, computes or filters each record with a JSONata expression.',
  schema,
  rules: [expressionParses],
  create(config: JsonataConfig) {
    const expression = jsonata(config.expression);
    const bindings = { ...(config.bindings ?? {}) } as Record<string, unknown>;
    return {
      async process(record: SluiceRecord) {
        let result: unknown;
        try {
          result = await expression.evaluate(record, bindings);
        } catch (error) {
          // The same record fails the same way every time: not worth a retry.
          throw new RecordError(`jsonata: ${(error as Error).message}`, { expression: config.expression }, { cause: error });
        }
        // JSONata marks sequences with a property; plain copies keep records JSON-clean.
        const plain = result === undefined ? undefined : (JSON.parse(JSON.stringify(result)) as unknown);
        if (config.into) return { ...record, [config.into]: plain ?? null };
        if (plain === undefined) return null;
        if (isRecord(plain)) return plain;
        if (Array.isArray(plain) && plain.every(isRecord)) return plain;
        throw new RecordError(`jsonata: the result is not a record or a list of records (got ${JSON.stringify(plain).slice(0, 60)}); set into: to store it in a field`);
      },
    };
  },
});

export default plugin;
