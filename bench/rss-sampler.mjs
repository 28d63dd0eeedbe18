// Loaded into a sluice child with `node --import` by bench/rss-breakdown.mjs: samples
// process.memoryUsage() every 10 ms and, at exit, writes the sample with the highest RSS (and the
// highest of each part) as JSON to $SLUICE_RSS_OUT. Read-only: it changes nothing the run does.
import { writeFileSync } from 'node:fs';

const out = process.env.SLUICE_RSS_OUT;
if (out) {
  let atPeak = process.memoryUsage();
  const most = { ...atPeak };
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > atPeak.rss) atPeak = m;
    for (const key of Object.keys(most)) most[key] = Math.max(most[key], m[key]);
  };
  setInterval(sample, 10).unref();
  process.on('exit', () => {
    sample();
    writeFileSync(out, JSON.stringify({ atPeak, most }));
  });
}
