// A CPU-heavy transform for the distributed benchmark: `rounds` chained SHA-256 hashes per record,
// so the job is bound by one core per process (what more workers should speed up).
import { createHash } from 'node:crypto';

export default [
  {
    name: 'burn',
    kind: 'transform',
    apiVersion: 1,
    description: 'Spends CPU on each record: chained SHA-256 of its id, `rounds` times (benchmark only).',
    schema: { type: 'object', additionalProperties: false, properties: { rounds: { type: 'integer', minimum: 1, default: 50 } } },
    create(config) {
      const rounds = config.rounds ?? 50;
      return {
        process(record) {
          let hash = String(record.id);
          for (let i = 0; i < rounds; i++) hash = createHash('sha256').update(hash).digest('hex');
          record.hash = hash;
          return record;
        },
      };
    },
  },
];
