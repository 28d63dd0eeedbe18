import type { PositionList, RecordPosition } from '../plugin/types.js';

/**
 * Record positions as the engine carries them: a page's {@link PositionList} and views of it. A
 * step that drops records keeps the indices of the ones left (numbers, no object per record); a
 * position object is made only for a record that fails, is retried, or reaches a plugin that reads
 * `positions`.
 */

/** The positions of some records of `list`: record `i` is record `indices[i]` of `list`. */
class PickedPositions implements PositionList {
  constructor(
    readonly list: PositionList,
    readonly indices: readonly number[],
  ) {}

  get length(): number {
    return this.indices.length;
  }

  at(index: number): RecordPosition | undefined {
    const k = this.indices[index];
    return k === undefined ? undefined : this.list.at(k);
  }
}

/** Records `indices` of `list` (all of it when undefined). A pick of a pick looks through to the first list. */
export function pickPositions(list: PositionList, indices: readonly number[] | undefined): PositionList {
  if (!indices) return list;
  if (list instanceof PickedPositions) {
    const inner = list.indices;
    return new PickedPositions(
list.list, indices.map((i) => inner[i]!));
  }
  return new PickedPositions(list, indices);
}

/** The positions of several lists one after another (pages merged into one batch). */
class JoinedPositions implements PositionList {
  readonly length: number;
  /** `starts[k]`: the index of the first record of `lists[k]`. */
  private readonly starts: number[] = [];

  constructor(private readonly lists: readonly PositionList[]) {
    let length = 0;
    for (const list of lists) {
      this.starts.push(length);
      length += list.length;
    }
    this.length = length;
  }

  at(index: number): RecordPosition | undefined {
    if (index < 0 || index >= this.length) return undefined;
    let k = this.lists.length - 1;
    while (this.starts[k]! > index) k--;
    return this.lists[k]!.at(index - this.starts[k]!);
  }
}

export function joinPositions(lists: readonly PositionList[]): PositionList {
  return lists.length === 1 ? lists[0]! : new JoinedPositions(lists);
}

/** For a source that gives no positions: `{ batch, index }`, the record's place in its batch. */
class BatchIndexPositions implements PositionList {
  constructor(
    private readonly batch: number,
    readonly length: number,
  ) {}

  at(index: number): RecordPosition | undefined {
    return index >= 0 && index < this.length ? { batch: this.batch, index } : undefined;
  }
}

/** The page's positions, or the records' places in batch `seq` when it has none. */
export function pagePositions(positions: PositionList | undefined, seq: number, records: number): PositionList {
  return positions ?? new BatchIndexPositions(seq, records);
}

/** The first `n` positions of `list`. */
export function headPositions(list: PositionList, n: number): PositionList {
  return n >= list.length ? list : pickPositions(list, Array.from({ length: n }, (_, i) => i));
}

/**
 * `list` as an array of positions, each made now: what plugins are given (`BatchInfo.positions`,
 * `WriteInfo.positions`) and what a test compares. An array is returned as it is.
 */
export function positionsArray(list: PositionList | undefined): readonly RecordPosition[] {
  if (!list) return [];
  if (Array.isArray(list)) return list as readonly RecordPosition[];
  const out: RecordPosition[] = new Array(list.length);
  for (let i = 0; i < out.length; i++) out[i] = list.at(i)!;
  return out;
}
