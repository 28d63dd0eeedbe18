import type { DeadLetterEntry } from '../events/types.js';
import type { PositionList, RawPage, SluiceRecord, SourcePage } from '../plugin/types.js';
import type { BatchCounts } from './counters.js';

/** A page as the engine reads it: a source page, plus the replay entry points. */
export type EnginePage = SourcePage & { readonly entry?: number[] };

/** A page of the source on its way through the steps to the sinks. */
export interface Batch extends BatchCounts {
  readonly seq: number;
  readonly cursor: unknown;
  readonly progress?: number;
  records: SluiceRecord[];
  /** `positions.at(i)`: where `records[i]` came from (see positions.ts). */
  positions: PositionList;
  /**
   * Replay: where each record goes back in. Below the number of transforms: the transform it enters
   * at (it then goes to every sink). Otherwise `transforms + mask`, mask ≥ 1 having bit k set for
   * each sink k (in the job's order) that refused it: it goes to those sinks only.
   */
  entry?: number[];
  /** Records that failed for good with `onError: deadLetter`, written when the batch commits. */
  readonly dead: DeadLetterEntry[];
  /**
   * A raw page (`SourcePage.raw`): its rows are `raw.count` and `records` is empty until the batch
   * is materialised (its records made, because the sink did not take it raw); then it is unset.
   */
  raw?: RawPage;
}

/** The rows a batch holds: its raw page's count, or its records. */
export function rowsIn(batch: Batch): number {
  return batch.raw ? batch.raw.count : batch.records.length;
}

/** The items at `indices` (all of them when undefined, or when the indices are all of them). */
export function subset<T>(items: T[], indices: readonly number[] | undefined): T[] {
  return !indices || indices.length === items.length ? items : indices.map((i) => items[i]!);
}
