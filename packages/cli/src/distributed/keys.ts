/**
 * Where a distributed run lives in Redis. With prefix P (`--prefix`, default `sluice`):
 *
 * - `P:jobs:*`                          BullMQ's queue `jobs` (one BullMQ job per partition)
 * - `P:run:<job>:<fingerprint>`         the partition plan (JSON), kept so a restart reuses it
 * - `P:run:<job>:<fingerprint>:stop`    the stop flag the workers poll
 * - `P:checkpoint:<job>:<fingerprint>:p<n>`  partition n's checkpoint (@sluice/plugin-redis)
 */
export const QUEUE = 'jobs';
export const DEFAULT_PREFIX = 'sluice';

export const runKey = (prefix: string, job: string, fingerprint: string): string => `${prefix}:run:${job}:${fingerprint}`;
export const stopKey = (prefix: string, job: string, fingerprint: string): string => `${runKey(prefix, job, fingerprint)}:stop`;

/** BullMQ job id of partition `index`: a second coordinator start adds nothing twice. */
export const partitionJobId = (job: string, fingerprint: string, index: number): string => `${job}:${fingerprint}:p${index}`;

/** `p3/8`: how messages name a partition. */
export const partitionLabel = (index: number, count: number): string => `p${index}/${count}`;
