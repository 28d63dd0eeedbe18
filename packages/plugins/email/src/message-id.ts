import { createHash } from 'node:crypto';

/**
 * The Message-ID of the mail for a record key: the same job and key always give the same id,
 * so a receiver (or a test) can drop the duplicates a crash may cause.
 */
export function messageIdOf(job: string, key: string, domain: string): { messageId: string; hash: string } {
  const hash = createHash('sha256').update(`${job}\n${key}`).digest('hex').slice(0, 32);
  return { messageId: `<${hash}@${domain}>`, hash };
}
