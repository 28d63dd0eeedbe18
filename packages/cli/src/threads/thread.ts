// The entry of a `sluice run --threads N` worker thread: loads the job once, waits for the run's
// plan (`go`), then runs partitions from the shared queue, one at a time, each with its own
// checkpoint, until none is left.
import { parentPort, workerData } from 'node:worker_threads';
import { formatDiagnostic, loadJob } from '@sluice/core/internal';
import { jobEnv } from '../envfile.js';
import { runRegistry } from '../job.js';
import { PartitionRunner } from './partition.js';
import type { FromThread, ThreadData, ToThread } from './protocol.js';
import { PartitionQueue } from './queue.js';

const port = parentPort!;
const data = workerData as ThreadData;
const post = (message: FromThread) => port.postMessage(message);

// Listening before loading: the plan, or a stop, may come while the job loads.
let runner: PartitionRunner | undefined;
let stopReason: string | undefined;
const go = new Promise<Extract<ToThread, { type: 'go' }>>((resolve) => {
  port.on('message', (message: ToThread) => {
    if (message.type === 'go') resolve(message);
    else if (message.type === 'stop') {
      stopReason ??= message.reason;
      runner?.stop(message.reason);
    }
  });
});

// The packages the job names, as the main thread loaded them: a file job's thread does not load the sql, http, email and redis ones.
const loaded = await loadJob(data.file, { registry: await runRegistry(data.file, data.sets), sets: [...data.sets], strictEnv: true, env: jobEnv(data.file, data.envFiles) });
const run = await go;
if (!loaded.plan) {
  post({ type: 'invalid', message: loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d)).join('; ') });
} else {
  runner = new PartitionRunner({
    plan: loaded.plan,
    thread: run.thread,
    queue: new PartitionQueue(run.queue, run.specs.length),
    specs: run.specs,
    fresh: run.fresh,
    limiters: run.limiters,
    timings: run.timings,
    post,
  });
  if (stopReason !== undefined) runner.stop(stopReason);
  // When none is left, the thread waits to be ended by the main thread once the run is over.
  await runner.runAll();
}
