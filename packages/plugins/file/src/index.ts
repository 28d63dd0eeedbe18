import { fileSink } from './sink.js';
import { fileSource } from './source.js';

export { fileSource, fileSourceSchema, normaliseSourceConfig, type FileSourceOptions } from './source.js';
export { fileSink, fileSinkSchema, normaliseSinkConfig, partitionPath, PARTITION_PLACEHOLDER, type FileSinkOptions, type FileSinkState } from './sink.js';
export type { FilePartition, FileSlice } from './partition.js';
export type { FileCursor } from './cursor.js';

export default [fileSource, fileSink];
