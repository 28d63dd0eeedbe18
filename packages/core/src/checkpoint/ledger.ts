import { createReadStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A durable set of keys a sink has acted on (e.g. mails sent). It survives `--fresh` and
 * `sluice reset`: only `--fresh --resend` clears it.
 */
export interface Ledger {
  has(key: string): boolean;
  /** Resolves once the key is durable (fsynced or committed). */
  add(key: string): Promise<void>;
  readonly size: number;
  close(): Promise<void>;
}

/** An append-only file of JSON-encoded keys; concurrent adds share one write and one fsync. */
export class FileLedger implements Ledger {
  private readonly keys = new Set<string>();
  private handle: FileHandle | undefined;
  private pending: Array<{ key: string; resolve: () => void; reject: (e: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;

  private constructor(readonly path: string) {}

  static async open(path: string): Promise<FileLedger> {
    const ledger = new FileLedger(path);
    await mkdir(dirname(path), { recursive: true });
    try {
      const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        try {
          ledger.keys.add(JSON.parse(line) as string);
        } catch {
          // A torn last line from a crash mid-append: that key was never confirmed as durable.
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    ledger.handle = await open(path, 'a');
    return ledger;
  }

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): Promise<void> {
    if (this.keys.has(key)) return Promise.resolve();
    this.keys.add(key);
    return new Promise((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.handle!.write(batch.map((p) => `${JSON.stringify(p.key)}\n`).join(''));
        await this.handle!.sync();
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) {
          this.keys.delete(p.key);
          p.reject(error);
        }
      }
    }
    this.flushing = undefined;
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
  }

  static async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}
