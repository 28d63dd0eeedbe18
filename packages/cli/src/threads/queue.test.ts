// The partition queue of `--threads`: every partition is taken once, in order, by whichever
// thread asks first — also by real worker threads racing the main thread — and a closed queue
// hands out nothing more and says how many were taken.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PartitionQueue } from './queue.js';

describe('PartitionQueue', () => {
  it('hands out each partition once, in order, and records who took it', () => {
    const queue = PartitionQueue.create(3);
    expect([queue.take(0), queue.take(1), queue.take(0), queue.take(1)]).toEqual([0, 1, 2, undefined]);
    expect(queue.taken()).toBe(3);
    expect(queue.takenBy(0)).toEqual([0, 2]);
    expect(queue.takenBy(1)).toEqual([1]);
    expect(queue.takenBy(2)).toEqual([]);
  });

  it('once closed, hands out nothing and keeps saying how many were taken before', () => {
    const queue = PartitionQueue.create(5);
    queue.take(0);
    queue.take(1);
    expect(queue.close()).toBe(2);
    expect(queue.take(0)).toBeUndefined();
    expect(queue.take(1)).toBeUndefined();
    expect(queue.close()).toBe(2);
    expect(queue.taken()).toBe(2);
    // A queue closed after running dry: all of them were taken.
    const dry = PartitionQueue.create(1);
    dry.take(0);
    dry.take(0);
    expect(dry.close()).toBe(1);
  });

  it('worker threads and the main thread racing for 200,000 partitions take each exactly once', async () => {
    const count = 200_000;
    const queue = PartitionQueue.create(count);
    // Everyone waits at this gate until all four are there, so they really take at the same time.
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const atGate = () => {
      Atomics.add(gate, 0, 1);
      while (Atomics.load(gate, 0) < 4);
    };
    // Plain JavaScript, so the worker needs no TypeScript: the same two atomic steps as take().
    const source = `
      const { workerData, parentPort } = require('node:worker_threads');
      const state = new Int32Array(workerData.buffer);
      const gate = new Int32Array(workerData.gate);
      Atomics.add(gate, 0, 1);
      while (Atomics.load(gate, 0) < 4);
      const mine = [];
      for (;;) {
        const index = Atomics.add(state, 0, 1);
        if (index >= workerData.count) break;
        Atomics.store(state, 1 + index, workerData.thread + 1);
        mine.push(index);
      }
      parentPort.postMessage(mine);`;
    const workers = [1, 2, 3].map((thread) => new Worker(source, { eval: true, workerData: { buffer: queue.buffer, gate: gate.buffer, count, thread } }));
    const theirs = workers.map((w) => new Promise<number[]>((resolve, reject) => w.once('message', resolve).once('error', reject)));
    const mine: number[] = [];
    atGate();
    for (let index = queue.take(0); index !== undefined; index = queue.take(0)) mine.push(index);
    const all = [mine, ...(await Promise.all(theirs))];
    await Promise.all(workers.map((w) => w.terminate()));
    const taken = all.flat().sort((a, b) => a - b);
    expect(taken).toEqual(Array.from({ length: count }, (_, i) => i));
    for (const [thread, list] of all.entries()) {
      // Each thread's partitions come in increasing order, and the queue knows them as its.
      expect(list).toEqual([...list].sort((a, b) => a - b));
      expect(queue.takenBy(thread)).toEqual(list);
    }
  });
});
