import type { EventBus } from '@sluice/core/internal';

/**
 * What the steps of a dry run say they would do (log events marked `{ dryRun: true }`, such as the
 * http source's first request), gathered for the lines printed before the summary. The logger
 * has already redacted them.
 */
export function dryRunNotes(bus: EventBus): () => string[] {
  const notes: string[] = [];
  bus.on((event) => {
    if (event.type === 'log' && event.fields?.dryRun === true) notes.push(`dry run: ${event.message}`);
  });
  return () => notes;
}
