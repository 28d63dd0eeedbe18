// The http sink's per-record writer, one build against another (A/B of a change to its request
// pool): 20,000 records in batches of 500, concurrency 32, against a local server that answers
// 201 at once; 7 interleaved rounds after a warm-up; medians of wall time, of the per-round ratio
// B/A, and of the process's CPU time (server included: it is the same for both).
//   node bench/http-sink-pool.mjs path/to/A/dist path/to/B/dist
// A build's dist must sit inside the workspace (it imports @sluice/core), e.g. a copy of
// packages/plugins/http/dist taken before the change.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer } from 'node:http';
import { writeSink } from '@sluice/core';
const server = createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(201, { 'content-type': 'application/json', 'content-length': '2' }); res.end('{}'); }); });
server.keepAliveTimeout = 30000;
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/sink`;
const [aDist, bDist] = process.argv.slice(2);
if (!aDist || !bDist) throw new Error('usage: node bench/http-sink-pool.mjs A_DIST B_DIST');
const load = async (dir) => (await import(pathToFileURL(resolve(dir, 'index.js')).href)).httpSink;
const old = await load(aDist);
const neu = await load(bDist);
const N = 20000, B = 500;
const batches = Array.from({ length: N / B }, (_, b) => Array.from({ length: B }, (_, i) => ({ id: b * B + i, name: `user-${i}` })));
const cpu = { old: [], neu: [] };
const run = async (sink, which) => { const c = process.cpuUsage(); const t = performance.now(); await writeSink(sink, { url }, batches.map((b) => b.map((r) => ({ ...r }))), { concurrency: 32 }); const u = process.cpuUsage(c); if (which) cpu[which].push((u.user + u.system) / 1000); return performance.now() - t; };
await run(old); await run(neu);
const times = { old: [], neu: [] };
for (let round = 0; round < 7; round++) {
  const order = round % 2 ? ['old', 'neu'] : ['neu', 'old'];
  for (const which of order) times[which].push(await run(which === 'old' ? old : neu, which));
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const ratios = times.old.map((o, i) => times.neu[i] / o);
console.log(JSON.stringify({ N, batch: B, concurrency: 32, oldMs: times.old.map(Math.round), newMs: times.neu.map(Math.round), medianOld: Math.round(med(times.old)), medianNew: Math.round(med(times.neu)), medianRatioNewOverOld: med(ratios).toFixed(3), cpuOldMs: med(cpu.old).toFixed(0), cpuNewMs: med(cpu.neu).toFixed(0), cpuRatio: med(cpu.neu.map((n, i) => n / cpu.old[i])).toFixed(3) }));
server.close();
