import { defineTransform, RecordError, type ConfigOf, type SluiceRecord } from '@sluice/core';

export const filterSchema = {
  type: 'object',
  description: 'Keeps the records for which an expression is truthy and drops the others.',
  properties: {
    where: {
      type: 'string',
      expression: true,
      minLength: 1,
      description:
        'An expression over `record` (and `env`, `job`); the record is kept when it is truthy and dropped ' +
        '(counted as filtered) otherwise.',
      examples: ['record.amount > 10', "record.status === 'active' && record.email != null"],
    },
  },
  required: ['where'],
  additionalProperties: false,
} as const;

export type FilterConfig = ConfigOf<typeof filterSchema>;

export const filter = defineTransform({
  name: 'filter',
  description: 'Keeps records matching an expression; the others are dropped and counted as filtered.',
  schema: filterSchema,
  create(config, ctx) {
    const where = ctx.expression(config.where);
    return {
      process(record: SluiceRecord): SluiceRecord | null {
        let keep: unknown;
        try {
          keep = where.evaluate(record);
        } catch (error) {
          // Expressions are pure: the same record fails the same way, so this is not worth a retry.
          throw new RecordError(`where: ${(error as Error).message}`, { expression: config.where }, { cause: error });
        }
        return keep ? record : null;
      },
    };
  },
});

export default filter;
