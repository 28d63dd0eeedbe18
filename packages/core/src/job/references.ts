// Names a job uses that must be defined elsewhere in it: what `run` would refuse at start, checked
// by `validate` without connecting anywhere.
import { knownHint, type Diagnostics } from './collect.js';

type Raw = Record<string, unknown>;

/** Every step's `with.connection` and the checkpoint's `connection` name an entry of `connections:`. */
export function checkConnectionNames(job: Raw, d: Diagnostics): void {
  const defined = job.connections && typeof job.connections === 'object' ? Object.keys(job.connections as Raw) : [];
  const check = (pointer: string, name: unknown) => {
    if (typeof name !== 'string' || defined.includes(name)) return;
    d.error(pointer, `unknown connection '${name}'`, knownHint(defined, name));
  };
  const checkpoint = job.checkpoint as Raw | undefined;
  if (checkpoint && typeof checkpoint === 'object') check('/checkpoint/connection', checkpoint.connection);
  for (const [pointer, step] of stepsOf(job)) {
    const config = step.with as Raw | undefined;
    // The convention the engine sizes pools by: a plugin names its connection in `with.connection`.
    if (config && typeof config === 'object' && !Array.isArray(config)) check(`${pointer}/with/connection`, config.connection);
  }
}

/** Every step of a job with its pointer, as written. */
export function stepsOf(job: Raw): Array<[string, Raw]> {
  const out: Array<[string, unknown]> = [['/source', job.source], ['/sink', job.sink], ['/deadLetter', job.deadLetter]];
  for (const list of ['steps', 'sinks'] as const) {
    if (Array.isArray(job[list])) (job[list] as unknown[]).forEach((step, i) => out.push([`/${list}/${i}`, step]));
  }
  return out.filter((entry): entry is [string, Raw] => entry[1] !== null && typeof entry[1] === 'object' && !Array.isArray(entry[1]));
}
