import { defineTransform, RecordError, type ConfigOf, type SluiceRecord } from '@sluice/core';

export const dedupeSchema = {
  type: 'object',
  description: 'Drops records whose key was already seen in this run.',
  properties: {
    key: {
      type: 'string',
      expression: true,
      minLength: 1,
      description:
        'An expression giving the key of a record. Strings are compared as they are, other values by their ' +
        'JSON text; for a key made of several fields use an array, whose order is fixed.',
      default: 'record.id',
      examples: ['record.id', 'record.email.toLowerCase()', '[record.customerId, record.orderDate]'],
    },
    keep: {
      type: 'string',
      enum: ['first'],
      description: 'Which record of a key to keep; `first` keeps the first one seen and drops later ones.',
      default: 'first',
      examples: ['first'],
    },
  },
  additionalProperties: false,
} as const;

/** Options with a `default` may be absent when the config did not go through defaults. */
export type DedupeConfig = Partial<ConfigOf<typeof dedupeSchema>>;

export const dedupe = defineTransform({
  name: 'dedupe',
  description:
    'Drops repeats of a key expression within the run, keeping the first record of each key (drops count as ' +
    'filtered). Keeps every distinct key in memory, so memory grows with the number of distinct keys; the ' +
    'seen keys are not checkpointed, so a resumed run starts with none and only drops repeats it sees itself.',
  schema: dedupeSchema,
  create(config: DedupeConfig, ctx) {
    const keySource = config.key ?? 'record.id';
    const key = ctx.expression(keySource);
    // Two sets so the string "1" and the number 1 stay different keys, as their JSON texts are.
    const seenStrings = new Set<string>();
    const seenOthers = new Set<string>();
    return {
      process(record: SluiceRecord): SluiceRecord | null {
        let value: unknown;
        try {
          value = key.evaluate(record);
        } catch (error) {
          // Expressions are pure: the same record fails the same way, so this is not worth a retry.
          throw new RecordError(`key: ${(error as Error).message}`, { expression: keySource }, { cause: error });
        }
        let seen: Set<string>;
        let text: string;
        if (typeof value === 'string') {
          seen = seenStrings;
          text = value;
        } else {
          if (value === undefined) {
            // Treating every keyless record as one key would silently drop all but the first.
            throw new RecordError(`key: ${keySource} is undefined for this record`, { expression: keySource });
          }
          seen = seenOthers;
          text = JSON.stringify(value);
        }
        if (seen.has(text)) return null;
        seen.add(text);
        return record;
      },
    };
  },
});

export default dedupe;
