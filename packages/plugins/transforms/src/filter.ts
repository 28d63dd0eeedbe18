import { defineTransform, RecordError, type BatchTransformResult, type ConfigOf, type SluiceRecord } from '@sluice/core';

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
    // Expressions are pure: the same record fails the same way, so this is not worth a retry.
    const failure = (error: unknown) => new RecordError(`where: ${(error as Error).message}`, { expression: config.where }, { cause: error });
    return {
      process(record: SluiceRecord): SluiceRecord | null {
        let keep: unknown;
        try {
          keep = where.evaluate(record);
        } catch (error) {
          throw failure(error);
        }
        return keep ? record : null;
      },
      // One loop per batch; a kept record is passed on as it is, never copied.
      processBatch(records: readonly SluiceRecord[]): BatchTransformResult {
        const results: Array<SluiceRecord | null> = new Array(records.length);
        let failed: Array<{ index: number; error: unknown }> | undefined;
        for (let i = 0; i < records.length; i++) {
          const record = records[i]!;
          try {
            results[i] = where.evaluate(record) ? record : null;
          } catch (error) {
            (failed ??= []).push({ index: i, error: failure(error) });
          }
        }
        return failed ? { results, failed } : { results };
      },
    };
  },
});

export default filter;
