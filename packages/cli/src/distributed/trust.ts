import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { PartitionJobData } from './protocol.js';

/**
 * What a worker trusts (docs/distributed.md, "Trust model"): the job file in its own checkout,
 * and what the coordinator adds to it only when it carries an HMAC-SHA256 made with the queue key
 * both hold. The key itself never leaves the process: Redis sees only signatures.
 */

/** Where the key comes from, for messages. */
export const KEY_ENV = 'SLUICE_QUEUE_KEY';
/** Shorter keys are refused: a signature is only as strong as the key behind it. */
export const MIN_KEY_BYTES = 16;

/** The queue key, or `insecure` (the operator opted out for a trusted local setup). */
export type QueueTrust = { readonly key: Buffer } | { readonly insecure: true };

export class QueueKeyError extends Error {}

/**
 * Reads the key from `--queue-key-file` or `SLUICE_QUEUE_KEY`; `insecure` is `--insecure-queue`.
 * Without either, a usage error says how to set one. The messages never show the key.
 */
export async function queueTrust(o: { keyFile?: string; insecure?: boolean; env?: NodeJS.ProcessEnv }): Promise<QueueTrust> {
  const env = o.env ?? process.env;
  let text: string | undefined;
  let from: string;
  if (o.keyFile !== undefined) {
    from = `--queue-key-file ${o.keyFile}`;
    try {
      text = await readFile(o.keyFile, 'utf8');
    } catch (error) {
      throw new QueueKeyError(`${from}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  } else {
    from = KEY_ENV;
    text = env[KEY_ENV];
  }
  if (text !== undefined && text.trim() !== '') {
    if (o.insecure) throw new QueueKeyError(`--insecure-queue and a queue key (${from}) do not go together: drop one`);
    const key = Buffer.from(text.trim(), 'utf8');
    if (key.length < MIN_KEY_BYTES) throw new QueueKeyError(`${from}: the queue key must be at least ${MIN_KEY_BYTES} bytes (try: openssl rand -hex 32)`);
    return { key };
  }
  if (o.insecure) return { insecure: true };
  if (o.keyFile !== undefined) throw new QueueKeyError(`${from}: the file is empty`);
  throw new QueueKeyError(
    `no queue key: set ${KEY_ENV} (or --queue-key-file FILE) to the same secret on the coordinator and every worker ` +
      '(openssl rand -hex 32), or pass --insecure-queue for a trusted local setup',
  );
}

/** The signed part of a message: every field but the signature, in a fixed order. */
function signedText(data: PartitionJobData, id: string): string {
  const { signature: _s, ...rest } = data;
  return canonical({ ...rest, id });
}

/** `data` with its signature for the BullMQ job `id` (unsigned when the queue is insecure). */
export function seal(data: PartitionJobData, id: string, trust: QueueTrust): PartitionJobData {
  const { signature: _s, ...rest } = data;
  if (!('key' in trust)) return rest;
  return { ...rest, signature: createHmac('sha256', trust.key).update(signedText(data, id)).digest('hex') };
}

/** Why `data` may not be trusted as the coordinator's, or undefined when it may. */
export function refusal(data: PartitionJobData, id: string, trust: QueueTrust): string | undefined {
  if (!('key' in trust)) return undefined;
  if (typeof data.signature !== 'string' || data.signature === '') {
    return `the queue message of ${id} is not signed; this worker only runs messages signed with its queue key (${KEY_ENV}): give the coordinator the same key`;
  }
  const expected = createHmac('sha256', trust.key).update(signedText(data, id)).digest();
  const given = Buffer.from(data.signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return `the queue message of ${id} has a wrong signature: it was signed with another queue key, or changed in Redis; give the coordinator and every worker the same ${KEY_ENV}`;
  }
  return undefined;
}

/** A job file's content fingerprint: SHA-256 of its text (a leading BOM dropped). */
export function fileDigest(text: string): string {
  return createHash('sha256').update(text.replace(/^\uFEFF/, '')).digest('hex');
}

/** A digest as messages show it. */
export const short = (digest: string): string => digest.slice(0, 16);

/** A job file path as the message carries it: relative, inside the folder, `/`-separated. */
export function relativeJobPath(path: string, cwd: string = process.cwd()): string | undefined {
  const rel = relative(cwd, resolve(cwd, path));
  if (!rel || isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) return undefined;
  return rel.split(sep).join('/');
}

/**
 * Reads the job file a message names from this worker's checkout and checks it is the
 * coordinator's: resolves to its text, or throws a message naming the file and both fingerprints.
 */
export async function ownJobText(data: PartitionJobData, cwd: string = process.cwd()): Promise<string> {
  const rel = typeof data.file === 'string' ? relativeJobPath(data.file, cwd) : undefined;
  if (rel === undefined || rel !== data.file) {
    throw new Error(`the queue message names the job file '${String(data.file)}', which is not a path inside this worker's folder (${cwd}); refused`);
  }
  let text: string;
  try {
    text = await readFile(resolve(cwd, rel), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'is not in this worker\'s checkout' : `cannot be read here (${code ?? (error as Error).message})`;
    throw new Error(
      `job file ${rel} ${why} (${cwd}): the coordinator's has fingerprint ${short(data.digest)}, this worker has none; ` +
        'deploy the same project checkout on every worker and start the worker from its folder',
    );
  }
  const own = fileDigest(text);
  if (own !== data.digest) {
    throw new Error(
      `job file ${rel} differs from the coordinator's: fingerprint ${short(own)} on this worker, ${short(data.digest)} on the coordinator; ` +
        'deploy the same version of the job on every machine',
    );
  }
  return text.replace(/^\uFEFF/, '');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
