// Opening the sql plugin's sink and source on a test database, as the engine would.
import type { SinkInstance, SluiceRecord, SourcePage } from '@sluice/core';
import { collectSource, createTestContext, type TestContextOptions } from '@sluice/core/testing';
import { RunConnections } from '@sluice/core/internal';
import { sqlSink } from '../src/sink.js';
import { sqlSource } from '../src/source.js';
import type { TestDatabase } from './services.js';

export function contextFor(db: TestDatabase, options: TestContextOptions = {}) {
  return createTestContext({ kind: 'sink', stepId: 'sink', jobName: 'job', connections: { db: db.connection }, ...options });
}

/** A sql sink on `db` (connection `db`), and a `close` that also closes the run's pools. */
export async function openSink(db: TestDatabase, config: Record<string, unknown>, options: TestContextOptions = {}) {
  const ctx = contextFor(db, options);
  const sink = await sqlSink.create({ connection: 'db', ...config } as never, ctx);
  const close = async () => {
    await sink.close?.();
    await (ctx.connections as RunConnections).closeAll();
  };
  return { sink, ctx, close };
}

/** One `write` call as the engine makes it: its refusals (`{}` when none); the batch's state is checked apart. */
export async function write(sink: SinkInstance, records: SluiceRecord[], seq: number, attempt = 1) {
  const result = (await sink.write(records, { seq, positions: records.map((_, index) => ({ index })), attempt, signal: new AbortController().signal })) ?? {};
  const { state, ...rest } = result as typeof result & { state?: unknown };
  if (state !== undefined && JSON.stringify(state) !== JSON.stringify({ seq })) throw new Error(`write of batch ${seq} returned state ${JSON.stringify(state)}`);
  return rest;
}

/** Every page the sql source reads from `db`. */
export async function readAll(db: TestDatabase, config: Record<string, unknown>, options: { cursor?: unknown; batchSize?: number } = {}): Promise<SourcePage[]> {
  return collectSource(sqlSource, { connection: 'db', ...config }, { connections: { db: db.connection }, ...options });
}
