// What a file sink durably holds, for `sluice crash-test` and `crashTest`: its output file read
// back with the file source, in the format and CSV layout the sink wrote it in.
import { existsSync } from 'node:fs';
import { withDefaults, type PluginContext, type SluiceRecord } from '@sluice/core';
import { normaliseSinkConfig, partitionPath, type FileSinkOptions } from './sink-config.js';
import { fileSource } from './source.js';

type Config = Parameters<typeof normaliseSinkConfig>[0];

/** Every record of the sink's file, in file order; none when the file does not exist. */
export async function* readBackFile(config: Config, ctx: PluginContext): AsyncIterable<SluiceRecord> {
  const options: FileSinkOptions = normaliseSinkConfig(config);
  const path = ctx.resolvePath(partitionPath(options.path, ctx.job.partition));
  const csv = options.format === 'csv' ? { csv: { delimiter: options.csv.delimiter, header: options.csv.header ? true : (options.csv.columns ? [...options.csv.columns] : false) } } : {};
  if (!existsSync(path)) return;
  const source = await fileSource.create(withDefaults(fileSource.schema, { path, format: options.format, ...csv }), ctx);
  try {
    for await (const page of source.read({ cursor: undefined, batchSize: 1000, signal: ctx.signal })) yield* page.records;
  } finally {
    await source.close?.();
  }
}
