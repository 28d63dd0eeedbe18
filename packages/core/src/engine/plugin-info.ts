import type { BatchInfo, PositionList, RecordPosition, WriteInfo } from '../plugin/types.js';
import { positionsArray } from './positions.js';
import type { AttemptInfo } from './steps.js';

// The `info` of a whole-batch call. Its positions (an object per record) and a sink's signal (an
// AbortController joined to the run's) are made when the plugin reads them: the file and SQL sinks,
// map and filter never do, and each batch would otherwise pay for them.

/** What `processBatch` gets. */
export function batchInfo(list: PositionList, signal: AbortSignal): BatchInfo {
  let made: readonly RecordPosition[] | undefined;
  return {
    get positions() {
      return (made ??= positionsArray(list));
    },
    signal,
  };
}

/** What a sink's `write` gets for one attempt (`part`: a part of a halved batch). */
export function writeInfo(seq: number, list: PositionList, attempt: AttemptInfo, part?: WriteInfo['part']): WriteInfo {
  let made: readonly RecordPosition[] | undefined;
  const info = {
    seq,
    get positions() {
      return (made ??= positionsArray(list));
    },
    attempt: attempt.attempt,
    get signal() {
      return attempt.signal;
    },
  };
  return part ? Object.assign(info, { part }) : info;
}
