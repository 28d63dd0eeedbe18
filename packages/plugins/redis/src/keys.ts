import type { Redis } from 'ioredis';

/** The prefix of every key when `checkpoint.prefix` is not given. */
export const DEFAULT_PREFIX = 'sluice';

/**
 * `<prefix>:checkpoint:<job>` for a local run (the fingerprint is inside the checkpoint, and the
 * engine refuses a mismatch); `<prefix>:checkpoint:<job>:<fingerprint>:p<n>` for partition n.
 */
export function checkpointKey(prefix: string, job: string, fingerprint: string, partition?: number): string {
  return partition === undefined ? `${prefix}:checkpoint:${job}` : `${prefix}:checkpoint:${job}:${fingerprint}:p${partition}`;
}

/** `<prefix>:ledger:<job>:<name>`: one Redis set per job and ledger, shared by every partition. */
export function ledgerKey(prefix: string, job: string, name: string): string {
  return `${prefix}:ledger:${job}:${name}`;
}

/** Escapes a literal for a SCAN MATCH pattern. */
export function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Deletes every key SCAN finds for `pattern` that `keep` accepts; returns how many. */
export async function deleteMatching(client: Redis, pattern: string, keep: (key: string) => boolean = () => true): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    const doomed = [...new Set(keys)].filter(keep);
    if (doomed.length) deleted += await client.del(...doomed);
  } while (cursor !== '0');
  return deleted;
}
