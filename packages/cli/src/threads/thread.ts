// The entry of a `sluice run --threads N` worker thread: loads the job once, then runs the
// partitions the main thread hands it, one at a time, each with its own checkpoint.
import { parentPort, workerData } from 'node:worker_threads';
import { CheckpointLockedError, CheckpointMismatchError, formatDiagnostic, JobRun, loadJob, messageOf, type JobCounters, type RunEvent } from '@sluice/core/internal';
import { StartupRefusal } from '@sluice/core';
import { builtInRegistry } from '../builtins.js';
import { FORWARDED, jsonSafe } from '../distributed/protocol.js';
import { jobEnv } from '../envfile.js';
import type { FromThread, ThreadData, ToThread } from './protocol.js';

/** Progress messages at most this often. */
const PUBLISH_MS = 250;
/** Events kept between two progress messages. */
const MAX_EVENTS = 50;

const port = parentPort!;
const data = workerData as ThreadData;
const post = (message: FromThread) => port.postMessage(message);

const loaded = await loadJob(data.file, { registry: builtInRegistry(), sets: [...data.sets], strictEnv: true, env: jobEnv(data.file, data.envFiles) });
const plan = loaded.plan;
if (!plan) {
  post({ type: 'invalid', message: loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d)).join('; ') });
} else {
  let current: JobRun | undefined;
  port.on('message', (message: ToThread) => {
    if (message.type === 'stop') current?.stop(message.reason);
    else void runPartition(message);
  });
  post({ type: 'ready' });

  async function runPartition(m: Extract<ToThread, { type: 'run' }>): Promise<void> {
    const options = {
      fresh: m.fresh,
      partition: { index: m.index, count: m.count, spec: m.spec ?? undefined },
      limiters: data.limiters,
    };
    const jobRun = (current = new JobRun(plan!, options));
    let startCounters: JobCounters | undefined;
    let events: RunEvent[] = [];
    jobRun.bus.on((event) => {
      if (event.type === 'start') startCounters = event.counters;
      else if (FORWARDED.has(event.type)) {
        events.push(event);
        if (events.length > MAX_EVENTS) events.shift();
      }
    });
    const publish = () => {
      const snapshot = jobRun.progress();
      post(jsonSafe({ type: 'progress', index: m.index, ...(startCounters ? { startCounters } : {}), ...(snapshot ? { snapshot } : {}), ...(events.length ? { events } : {}) }));
      events = [];
    };
    const timer = setInterval(publish, PUBLISH_MS);
    try {
      const summary = await jobRun.run();
      publish();
      post(jsonSafe({ type: 'end', index: m.index, summary }));
    } catch (error) {
      if (error instanceof CheckpointMismatchError || error instanceof CheckpointLockedError || error instanceof StartupRefusal) {
        post({ type: 'refused', index: m.index, message: error.message });
      } else post({ type: 'refused', index: m.index, message: `internal error: ${messageOf(error)}` });
    } finally {
      clearInterval(timer);
      current = undefined;
    }
  }
}
