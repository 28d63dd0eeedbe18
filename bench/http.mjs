// Enrichment through a local HTTP server: a hand-written undici + p-limit loop vs `sluice run`,
// side by side in one run. Each contender is its own process; the server is a third one, so
// client and server do not share an event loop. Loopback only (127.0.0.1), bounded in count.
//
// Usage: node bench/http.mjs [--records 100000] [--concurrency 64] [--rounds 3] [--json FILE]
// Needs a build first (npx tsc -b). Prints a table; --json writes the figures.
//
// Every run's output is verified before any figure is printed: each record, in input order, with
// the enrichment the server gives it, hashed and compared with a hash computed here from the input
// generator's values (sharing no code with either contender). A wrong output stops the script with
// exit 1 and no ratio. Contenders alternate which goes first each round; the 1-minute load average
// is recorded at the start of each run.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HTTP_PKG = join(ROOT, 'packages/plugins/http/node_modules');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};

// ---------- role: server ----------
async function serve() {
  let count = 0;
  let first = 0;
  let last = 0;
  const server = createServer((req, res) => {
    if (req.url === '/__stats') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ count, first, last }));
      count = 0;
      return;
    }
    const now = performance.now();
    if (count === 0) first = now;
    last = now;
    count++;
    const id = Number(req.url.slice('/enrich/'.length));
    const body = JSON.stringify({ id, score: id * 2, tag: `t${id % 7}` });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
  process.on('SIGTERM', () => process.exit(0));
  // Never outlive the benchmark.
  setTimeout(() => process.exit(0), 30 * 60_000).unref();
}

// ---------- role: hand-written client ----------
async function hand(input, output, base, concurrency) {
  const { Agent } = await import(pathToFileURL(join(HTTP_PKG, 'undici/index.js')).href);
  const pLimit = (await import(pathToFileURL(join(HTTP_PKG, 'p-limit/index.js')).href)).default;
  const agent = new Agent({ connections: concurrency, pipelining: 1, keepAliveTimeout: 10_000 });
  const limit = pLimit(concurrency);
  const origin = new URL(base).origin;
  const out = createWriteStream(output);
  const enrich = async (record) => {
    const res = await agent.request({ origin, path: `/enrich/${encodeURIComponent(record.id)}`, method: 'GET', headers: { accept: 'application/json' } });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    return { ...record, e: JSON.parse(text) };
  };
  // Read in chunks of 1000 lines, enrich each chunk at `concurrency`, write in order: the same
  // shape as Sluice's batches, and memory bounded the same way.
  let carry = '';
  let lines = [];
  const flush = async () => {
    const results = await Promise.all(lines.map((line) => limit(() => enrich(JSON.parse(line)))));
    let text = '';
    for (const r of results) text += `${JSON.stringify(r)}\n`;
    if (!out.write(text)) await once(out, 'drain');
    lines = [];
  };
  for await (const chunk of createReadStream(input, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const parts = (carry + chunk).split('\n');
    carry = parts.pop();
    for (const line of parts) {
      if (line === '') continue;
      lines.push(line);
      if (lines.length === 1000) await flush();
    }
  }
  if (carry) lines.push(carry);
  if (lines.length) await flush();
  out.end();
  await once(out, 'finish');
  await agent.close();
}

// ---------- role: orchestrator ----------
function startProcess(argv, env = {}) {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.out = '';
  child.err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (child.out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (child.err += d));
  return child;
}

/** Runs a process to its end, sampling its resident memory every 100 ms. */
async function measured(argv, timeoutMs) {
  const load = loadavg()[0];
  const started = performance.now();
  const child = startProcess(argv);
  const samples = [];
  let cpu = 0;
  const timer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
      if (kb) samples.push({ t: performance.now() - started, mb: kb / 1024 });
      // utime + stime, in clock ticks (100 per second on Linux): CPU the contender itself used,
      // a figure other load on the machine disturbs much less than wall time.
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu = (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // gone
    }
  }, 100);
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'close');
  clearInterval(timer);
  clearTimeout(killer);
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}\n${child.err}`);
  return { seconds: (performance.now() - started) / 1000, samples, cpu, load };
}

async function stats(base) {
  const { request } = await import('node:http');
  return new Promise((resolveStats, reject) => {
    request(`${base}/__stats`, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolveStats(JSON.parse(body)));
    })
      .on('error', reject)
      .setTimeout(5000, function () {
        this.destroy(new Error('stats timed out'));
      })
      .end();
  });
}

/** RSS at 25 %, 50 %, 75 % of the run and the peak: "flat" means the later ones do not keep climbing. */
function memoryShape(samples, seconds) {
  const at = (fraction) => {
    const t = fraction * seconds * 1000;
    const near = samples.filter((s) => s.t <= t).at(-1) ?? samples[0];
    return near ? Math.round(near.mb) : undefined;
  };
  return {
    p25: at(0.25),
    p50: at(0.5),
    p75: at(0.75),
    peak: Math.round(Math.max(...samples.map((s) => s.mb))),
    deciles: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map(at),
  };
}

/** The input's record `id`, as both the generator below and the server define it. */
const inputRecord = (id) => ({ id, name: `user-${id}`, email: `user${id}@example.com`, amount: (id * 7919) % 1000 });

/** SHA-256 over every record in order, as tab-separated fields: input fields, then the enrichment. */
function expectedDigest(records) {
  const hash = createHash('sha256');
  for (let id = 0; id < records; id++) hash.update(`${id}\tuser-${id}\tuser${id}@example.com\t${(id * 7919) % 1000}\t${id}\t${id * 2}\tt${id % 7}\n`);
  return hash.digest('hex');
}

/** The same digest over an output file; any missing, extra, reordered or changed record changes it. */
async function outputDigest(file) {
  const hash = createHash('sha256');
  let carry = '';
  let count = 0;
  const line = (text) => {
    const r = JSON.parse(text);
    hash.update(`${r.id}\t${r.name}\t${r.email}\t${r.amount}\t${r.e?.id}\t${r.e?.score}\t${r.e?.tag}\n`);
    count++;
  };
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const parts = (carry + chunk).split('\n');
    carry = parts.pop();
    for (const text of parts) if (text) line(text);
  }
  if (carry) line(carry);
  return { count, sha256: hash.digest('hex') };
}

async function main() {
  const records = Number(option('records', '100000'));
  const concurrency = Number(option('concurrency', '64'));
  const rounds = Number(option('rounds', '3'));
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-http-'));
  const input = join(dir, 'input.jsonl');
  const out = createWriteStream(input);
  for (let id = 0; id < records; id++) {
    if (!out.write(`${JSON.stringify(inputRecord(id))}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');

  const server = startProcess([fileURLToPath(import.meta.url), '--role', 'server']);
  const killServer = setTimeout(() => server.kill('SIGKILL'), 30 * 60_000);
  while (!server.out.includes('\n')) await new Promise((r) => setTimeout(r, 20));
  const base = `http://127.0.0.1:${server.out.trim()}`;

  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: bench-http
batch: { size: 1000, inFlight: 4 }
checkpoint: { store: none }
source:
  use: file
  with: { path: input.jsonl }
steps:
  - id: enrich
    use: http
    with:
      url: ${base}/enrich/{{ encodeURIComponent(record.id) }}
      into: e
    concurrency: ${concurrency}
sink:
  use: file
  with: { path: out/sluice.jsonl }
`,
  );

  const results = { records, concurrency, node: process.version, hand: [], sluice: [] };
  const expected = expectedDigest(records);
  const contenders = {
    hand: { argv: [fileURLToPath(import.meta.url), '--role', 'hand', input, join(dir, 'hand.jsonl'), base, String(concurrency)], output: join(dir, 'hand.jsonl') },
    sluice: { argv: [join(ROOT, 'packages/cli/dist/bin.js'), 'run', join(dir, 'job.yaml'), '--progress', 'none'], output: join(dir, 'out/sluice.jsonl') },
  };
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so a drift of the machine's load hits both alike.
      for (const name of round % 2 === 0 ? ['hand', 'sluice'] : ['sluice', 'hand']) {
        const c = contenders[name];
        rmSync(c.output, { force: true });
        const m = await measured(c.argv, 20 * 60_000);
        const server = await stats(base);
        const seen = await outputDigest(c.output);
        if (seen.sha256 !== expected || seen.count !== records || server.count !== records) {
          throw new Error(
            `${name} (round ${round + 1}) output is wrong: ${seen.count} records (expected ${records}), sha256 ${seen.sha256.slice(0, 16)}… (expected ${expected.slice(0, 16)}…), ${server.count} requests at the server; no figures`,
          );
        }
        results[name].push({ ...m, server, sha256: seen.sha256 });
      }
    }
  } finally {
    clearTimeout(killServer);
    server.kill('SIGTERM');
  }

  const row = (name, r) => {
    const rps = r.server.count / ((r.server.last - r.server.first) / 1000);
    const mem = memoryShape(r.samples, r.seconds);
    return { name, wall: r.seconds, rpsServer: rps, rpsWall: records / r.seconds, cpuUsPerRequest: (r.cpu / r.server.count) * 1e6, mem, requests: r.server.count, load: r.load };
  };
  const table = [];
  for (let i = 0; i < rounds; i++) table.push(row(`hand-written (round ${i + 1})`, results.hand[i]), row(`sluice run (round ${i + 1})`, results.sluice[i]));
  console.log(`\n${records} records, concurrency ${concurrency}, Node ${process.version}, ${rounds} round(s); every output verified (sha256 ${expected.slice(0, 16)}…)\n`);
  console.log('contender                   wall s   req/s (server)   req/s (wall)   CPU µs/req   load   RSS MB 25%/50%/75%/peak   RSS MB at each 10% of the run');
  for (const r of table) {
    console.log(
      `${r.name.padEnd(26)} ${r.wall.toFixed(2).padStart(6)}   ${Math.round(r.rpsServer).toString().padStart(14)}   ${Math.round(r.rpsWall).toString().padStart(12)}   ${Math.round(r.cpuUsPerRequest).toString().padStart(10)}   ${r.load.toFixed(1).padStart(4)}   ${`${r.mem.p25}/${r.mem.p50}/${r.mem.p75}/${r.mem.peak}`.padEnd(22)}   ${r.mem.deciles.join(' ')}`,
    );
  }
  // Rounds alternate the contenders, so each pair saw about the same machine; the median pair ratio
  // is the figure, the best of each the ceiling.
  const pairs = [];
  for (let i = 0; i < rounds; i++) pairs.push(table[2 * i + 1].rpsServer / table[2 * i].rpsServer);
  const sorted = [...pairs].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const best = (name) => Math.max(...table.filter((r) => r.name.startsWith(name)).map((r) => r.rpsServer));
  const ratio = best('sluice') / best('hand');
  console.log(`\nsluice / hand-written, server-side req/s: per round ${pairs.map((p) => p.toFixed(2)).join(', ')}; median ${median.toFixed(2)}x; best vs best ${ratio.toFixed(2)}x  (target >= 0.8x)`);
  const cpuOf = (name) => table.filter((r) => r.name.startsWith(name)).map((r) => r.cpuUsPerRequest).sort((a, b) => a - b)[Math.floor(rounds / 2)];
  console.log(`client CPU per request, median: hand-written ${Math.round(cpuOf('hand'))} µs, sluice ${Math.round(cpuOf('sluice'))} µs (startup included)`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores`);
  const json = option('json', undefined);
  if (json) writeFileSync(json, `${JSON.stringify({ ...results, table, pairs, median, ratio, loadavg: loadavg() }, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
}

const role = option('role', 'main');
if (role === 'server') await serve();
else if (role === 'hand') await hand(args[2], args[3], args[4], Number(args[5]));
else {
  await main().catch((error) => {
    console.error(`\nbenchmark failed: ${error.message}`);
    process.exit(1);
  });
}
