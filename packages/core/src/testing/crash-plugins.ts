// The plugins `crashTest` builds its job from around the plugin under test: a source that reads
// the test's records from a JSON file (resumable: its cursor is how many it has given), and a sink
// that keeps nothing (for a source under test, and for dead letters).
import { readFileSync } from 'node:fs';
import { defineSink, defineSource } from '../plugin/define.js';
import type { SluiceRecord } from '../plugin/types.js';

/** `with: { file }`: a JSON array of records. */
export const crashRecordsSource = defineSource({
  name: 'crash-test-records',
  description: "Reads crashTest's records from a JSON file; its cursor is how many it has given.",
  schema: { type: 'object', required: ['file'], properties: { file: { type: 'string' } }, additionalProperties: false } as const,
  create(config, ctx) {
    const records = JSON.parse(readFileSync(ctx.resolvePath(config.file), 'utf8')) as SluiceRecord[];
    return {
      async *read({ cursor, batchSize }) {
        for (let at = typeof cursor === 'number' ? cursor : 0; at < records.length; at += batchSize) {
          const page = records.slice(at, at + batchSize);
          yield { records: page, cursor: at + page.length, positions: page.map((_, i) => ({ index: at + i })) };
        }
      },
    };
  },
});

/** Accepts every batch and keeps nothing. */
export const crashDiscardSink = defineSink({
  name: 'crash-test-discard',
  description: 'Keeps nothing (crashTest of a source, and its dead letters).',
  schema: { type: 'object' } as const,
  create: () => ({ async write() {} }),
});

export default [crashRecordsSource, crashDiscardSink];
