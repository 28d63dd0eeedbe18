// Reads the journals the engine's crash-test hook (engine/faults.ts) leaves: what the source read
// in each run of a scenario, and where a run killed itself.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CrashPoint, JournalLine } from '../engine/faults.js';
import type { SluiceRecord } from '../plugin/types.js';

/** Where one run killed itself. */
export interface CrashSite {
  readonly point: CrashPoint;
  readonly seq?: number;
  readonly sink?: string;
}

/** What the journals of one scenario say. */
export interface Journal {
  /** The crash of each run, by run number (undefined: that run did not kill itself). */
  readonly crashes: ReadonlyMap<number, CrashSite>;
  /**
   * What the job read, as the batches that stand after every resume: a resumed run reads again
   * from just after its checkpoint, so the batches a run read past its checkpoint are replaced by
   * what the next run read. A source that honours its cursor reads exactly what an uninterrupted
   * run reads.
   */
  readonly read: SluiceRecord[];
  /** How many batches stand (pages read, as the engine numbers them). */
  readonly batches: number;
}

/** The journal lines of `dir`, in run order (file names start with the zero-padded run number). */
export function readJournal(dir: string): Journal {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort() : [];
  const crashes = new Map<number, CrashSite>();
  // Per partition (a run on threads reads several), the pages that stand, by seq.
  const parts = new Map<string, Map<number, SluiceRecord[]>>();
  for (const file of files) {
    const run = Number(file.slice(0, file.indexOf('-')));
    const text = readFileSync(join(dir, file), 'utf8');
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let line: JournalLine;
      try {
        line = JSON.parse(raw) as JournalLine;
      } catch {
        // The last line of a killed run may be cut short; it said nothing that counts.
        continue;
      }
      if ('crash' in line) {
        crashes.set(run, { point: line.crash, ...(line.seq !== undefined ? { seq: line.seq } : {}), ...(line.sink !== undefined ? { sink: line.sink } : {}) });
        continue;
      }
      const part = String(line.part);
      let pages = parts.get(part);
      if (!pages) parts.set(part, (pages = new Map()));
      if ('start' in line) {
        // A fresh start keeps nothing; a resume keeps the batches up to its checkpoint.
        for (const seq of [...pages.keys()]) if (line.start === null || seq > line.start) pages.delete(seq);
      } else {
        pages.set(line.seq, line.records as SluiceRecord[]);
      }
    }
  }
  const read: SluiceRecord[] = [];
  let batches = 0;
  for (const pages of parts.values()) {
    for (const seq of [...pages.keys()].sort((a, b) => a - b)) {
      read.push(...pages.get(seq)!);
      batches++;
    }
  }
  return { crashes, read, batches };
}
