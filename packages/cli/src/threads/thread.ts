// The entry of a `sluice run --threads N` worker thread: loads the job once, then runs partitions
// from the shared queue, one at a time, each with its own checkpoint, until none is left.
import { parentPort, workerData } from 'node:worker_threads';
import { formatDiagnostic, loadJob } from '@sluice/core/internal';
import { builtInRegistry } from '../builtins.js';
import { jobEnv } from '../envfile.js';
import { PartitionRunner } from './partition.js';
import type { FromThread, ThreadData, ToThread } from './protocol.js';
import { PartitionQueue } from './queue.js';

const port = parentPort!;
const data = workerData as ThreadData;
const post = (message: FromThread) => port.postMessage(message);

const loaded = await loadJob(data.file, { registry: builtInRegistry(), sets: [...data.sets], strictEnv: true, env: jobEnv(data.file, data.envFiles) });
if (!loaded.plan) {
  post({ type: 'invalid', message: loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d)).join('; ') });
} else {
  const runner = new PartitionRunner({
    plan: loaded.plan,
    thread: data.thread,
    queue: new PartitionQueue(data.queue, data.specs.length),
    specs: data.specs,
    fresh: data.fresh,
    limiters: data.limiters,
    post,
  });
  port.on('message', (message: ToThread) => {
    if (message.type === 'stop') runner.stop(message.reason);
  });
  // When none is left, the thread waits to be ended by the main thread once the run is over.
  await runner.runAll();
}
