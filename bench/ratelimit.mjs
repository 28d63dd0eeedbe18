// rateLimit on the real clock: `node bench/ratelimit.mjs [--rounds N] [--seconds S]`. For each rate,
// 32 callers take from one limiter (the engine's StepThrottle, as a step with concurrency 32 does)
// for S seconds; the delivered rate and the densest one-second window of start times are recorded,
// with the 1-minute load average. The exactness itself is tested on a virtual clock
// (packages/core/src/engine/throttle.test.ts); this shows what real timers and a loaded machine do.
// Results: bench/results/ratelimit.md.
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
  const times = [];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (;;) {
        await throttle.take();
        const now = Date.now();
        if (now >= end) return;
        times.push(now);
      }
    }),
  );
  let densest = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] > 1000) j++;
    densest = Math.max(densest, i - j + 1);
  }
  return { delivered: times.length / SECONDS, densest };
}

const rows = [];
for (let round = 1; round <= ROUNDS; round++) {
  for (const rate of RATES) {
    const load = loadavg()[0];
    const r = await measure(rate);
    rows.push({ round, rate, ...r, load });
    console.log(`round ${round} ${rate}/s: ${r.delivered.toFixed(1)}/s (${((r.delivered / rate - 1) * 100).toFixed(2)} %), densest second ${r.densest}, load ${load.toFixed(1)}`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines = [
  `# rateLimit on the real clock`,
  '',
  `\`node bench/ratelimit.mjs\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}: 32 callers on one limiter, ${SECONDS} s per rate, ${ROUNDS} rounds (rates interleaved). Densest second: the most start times (read with \`Date.now()\` after each take) in any closed one-second window.`,
  '',
  '| rate | delivered (median of rounds) | off by | densest second (max) | load average at start |',
  '|--:|--:|--:|--:|---|',
  ...RATES.map((rate) => {
    const rs = rows.filter((r) => r.rate === rate);
    const d = median(rs.map((r) => r.delivered));
    return `| ${rate}/s | ${d.toFixed(1)}/s | ${((d / rate - 1) * 100).toFixed(2)} % | ${Math.max(...rs.map((r) => r.densest))} | ${rs.map((r) => r.load.toFixed(1)).join(', ')} |`;
  }),
  '',
  'Target (issue 12): within ±3 %, no one-second window over rate + 1.',
  '',
];
writeFileSync(join(ROOT, 'bench/results/ratelimit.md'), lines.join('\n'));
console.log('\n' + lines.join('\n'));
