// rateLimit on the real clock: `node bench/ratelimit.mjs [--rounds N] [--seconds S]`. For each rate,
// 32 callers take from one limiter (the engine's StepThrottle, as a step with concurrency 32 does)
// for S seconds; the delivered rate and the densest one-second window are recorded, with the 1-minute
// load average. Two densest windows: of the times the limiter granted the slots (what it promises:
// never more than rate + 1 in a second), and of `Date.now()` read by each caller right after its take
// resolved (what a far end could see), with the longest gap between the two (the OS descheduling the
// process between a grant and the caller's next line). The exactness itself is tested on a virtual clock
// (packages/core/src/engine/throttle.test.ts); this shows what real timers and a loaded machine do.
// Results: bench/results/ratelimit.md and .json (the notes below are kept through a rerun).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../packages/core/dist/index.js';
import { StepThrottle } from '../packages/core/dist/internal.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const ROUNDS = Math.max(3, option('--rounds', 3));
const SECONDS = option('--seconds', 5);
const RATES = [100, 2_000, 20_000];

async function measure(rate) {
  const throttle = new StepThrottle(systemClock, { perSecond: rate });
  const granted = [];
  const seen = [];
  let lag = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (;;) {
        const at = await throttle.take();
        const now = Date.now();
        if (now >= end) return;
        granted.push(at);
        seen.push(now);
        lag = Math.max(lag, now - at);
      }
    }),
  );
  return { delivered: granted.length / SECONDS, densest: densest(granted.sort((a, b) => a - b)), densestSeen: densest(seen), lagMs: lag };
}

/**
 * The most times in any one-second window of whole milliseconds, [t, t + 1000): the closed
 * [t, t + 1000] this once used spans 1001 ms of Date.now() values, so at 2000/s it could count 2002
 * starts of a limiter that never lets 2002 through in a second.
 */
function densest(times) {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** What the figures mean (kept here so that a regenerated file keeps it; update with the limiter). */
const NOTES = [
  'Granted vs seen: the limiter counts a call in its one-second window at the instant it grants the',
  'slot, and the window never holds more than rate + 1 (the granted column). A caller whose process is',
  'descheduled between that grant and its next line (the lag column; on a busy 2-core machine a few ms)',
  'starts later than its slot, so calls granted in one second can start in the next: the seen column',
  'can then show rate + 2 where the granted one shows rate + 1. A far end sees the same, plus the network.',
  '',
  'Catching up after late timers is a trade: at rates whose slots are closer than timers (above',
  '100/s) a caller may keep a schedule up to 250 ms late, which the figures above show holds the',
  'rate under load; at 100/s and below only max(10 ms, a quarter of the spacing), so that calls stay',
  'apart as the other end sees them (the 20/s test at a real HTTP server, `test/http-e2e.test.ts`,',
  'saw 23 requests in a second with 250 ms). Under load timers fire more than 10 ms late, which',
  'is why 100/s delivers under its rate on a busy machine; on a quiet machine (timers about 1 ms late)',
  "the virtual-clock tests' late-timer case applies. What would close it under load: a catch-up that",
  'spreads the missed slots over the next second instead of dropping them.',
];

const rows = [];
for (let round = 1; round <= ROUNDS; round++) {
  for (const rate of RATES) {
    const load = loadavg()[0];
    const r = await measure(rate);
    rows.push({ round, rate, ...r, load });
    console.log(`round ${round} ${rate}/s: ${r.delivered.toFixed(1)}/s (${((r.delivered / rate - 1) * 100).toFixed(2)} %), densest second ${r.densest} granted, ${r.densestSeen} seen (lag ≤ ${r.lagMs} ms), load ${load.toFixed(1)}`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines = [
  `# rateLimit on the real clock`,
  '',
  `\`node bench/ratelimit.mjs\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}: 32 callers on one limiter, ${SECONDS} s per rate, ${ROUNDS} rounds (rates interleaved). Densest second: the most calls in any one-second window [t, t + 1000 ms), by the time the limiter granted each (\`take()\` resolves with it) and as the callers saw it (\`Date.now()\` read right after each take); lag: the longest gap between the two.`,
  '',
  '| rate | delivered (median of rounds) | off by | densest second, granted (max) | densest second, seen by callers (max) | longest grant → caller lag | load average at start |',
  '|--:|--:|--:|--:|--:|--:|---|',
  ...RATES.map((rate) => {
    const rs = rows.filter((r) => r.rate === rate);
    const d = median(rs.map((r) => r.delivered));
    return `| ${rate}/s | ${d.toFixed(1)}/s | ${((d / rate - 1) * 100).toFixed(2)} % | ${Math.max(...rs.map((r) => r.densest))} | ${Math.max(...rs.map((r) => r.densestSeen))} | ${Math.max(...rs.map((r) => r.lagMs))} ms | ${rs.map((r) => r.load.toFixed(1)).join(', ')} |`;
  }),
  '',
  'Target (issue 12): within ±3 %, no one-second window over rate + 1.',
  '',
  ...NOTES,
  '',
];
const date = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
writeFileSync(join(ROOT, 'bench/results/ratelimit.md'), lines.join('\n'));
writeFileSync(join(ROOT, 'bench/results/ratelimit.json'), `${JSON.stringify({ date, node: process.version, seconds: SECONDS, rounds: ROUNDS, rows }, null, 2)}\n`);
console.log('\n' + lines.join('\n'));
