// Shared parts of the in-process JSON Lines benchmarks (jsonl-reader-parts.mjs, jsonl-copy-strings.mjs,
// jsonl-copy-encode.mjs): CPU time of this process, and ways of doing one thing timed side by side.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { median } from './sql-lib.mjs';

/** User + system CPU seconds of this process so far. */
export function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

/**
 * Runs each of `ways` (name → function) once to warm up, then `rounds` times, printing the median CPU
 * time of each as it goes; writes the lines, with `title` and the load before and after, to `out`.
 */
export function timeWays(title, ways, { rounds, out }) {
  const lines = [`${title}, CPU s (median of ${rounds} rounds); load before ${load()}`, ''];
  for (const [name, fn] of Object.entries(ways)) {
    fn();
    const times = Array.from({ length: rounds }, () => {
      const t = cpuSeconds();
      fn();
      return cpuSeconds() - t;
    });
    lines.push(`${name.padEnd(28)} ${median(times).toFixed(3)}  (${times.map((r) => r.toFixed(3)).join(' ')})`);
    process.stdout.write(`${lines.at(-1)}\n`);
  }
  lines.push('', `load after ${load()}`);
  if (out) writeFileSync(out, `${lines.join('\n')}\n`);
}
