// Email benchmark: 2,000 messages to a local SMTP server (smtp-server, in its own process) at
// concurrency 8 — Sluice's email sink (the built CLI) against a hand-written nodemailer pool loop.
//
//   node bench/email.mjs [--messages 2000] [--concurrency 8] [--rounds 3]
//
// Both contenders run as child processes against the same server and send the same messages
// (rendered from the same records). Each reports its sending time: for Sluice the run's
// `durationMs` from --report (reading, rendering, throttling, sending, recording each key in the
// fsynced ledger, checkpoints); for the loop, from its first send to its last reply. Node start-up
// and the SMTP verify at start are left out of both; wall-clock times are printed too.
//
// Every run is verified before any figure is printed: the server keeps, per accepted message, its
// recipient, subject and the plan named in its text, and the multiset of those must equal what the
// records say (each recipient exactly once). A wrong run stops the script (exit 1, no ratio). The
// 1-minute load average is recorded at the start of each run.
import { fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { sluiceCommand } from './sql-lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fromEmailPackage = createRequire(join(ROOT, 'packages/plugins/email/package.json'));
const load = async (name) => import(pathToFileURL(fromEmailPackage.resolve(name)).href);

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    role: { type: 'string' },
    url: { type: 'string' },
    input: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const CONCURRENCY = Number(values.concurrency);

/** Count and SHA-256 of the sorted lines: equal for equal multisets. */
function multisetDigest(lines) {
  const hash = createHash('sha256');
  for (const line of [...lines].sort()) hash.update(`${line}\n`);
  return { count: lines.length, sha256: hash.digest('hex') };
}

// ---------- the SMTP server (child process) ----------
if (values.role === 'server') {
  const { SMTPServer } = await load('smtp-server');
  let accepted = 0;
  /** Per accepted message since the last digest: `recipient \t subject \t plan`. */
  let seen = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    closeTimeout: 200,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('end', () => {
        accepted++;
        const raw = Buffer.concat(chunks).toString('utf8');
        const subject = /^subject: (.*)$/im.exec(raw)?.[1]?.trim() ?? '';
        const plan = /your (\w+) account is ready/.exec(raw)?.[1] ?? '';
        seen.push(`${session.envelope.rcptTo.map((r) => r.address).join(',')}\t${subject}\t${plan}`);
        callback(null, 'queued');
      });
    },
  });
  server.on('error', () => {});
  server.listen(0, '127.0.0.1', () => process.send({ port: server.server.address().port }));
  process.on('message', (m) => {
    if (m === 'count') process.send({ accepted });
    if (m === 'digest') {
      process.send({ digest: multisetDigest(seen) });
      seen = [];
    }
    if (m === 'stop') server.close(() => process.exit(0));
  });
}

// ---------- the hand-written loop (child process) ----------
else if (values.role === 'loop') {
  const nodemailer = (await load('nodemailer')).default;
  const records = readFileSync(values.input, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const transporter = nodemailer.createTransport({ pool: true, url: values.url, maxConnections: CONCURRENCY, logger: false });
  await transporter.verify();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const r = records[next++];
      await transporter.sendMail({
        from: 'Acme <hello@acme.test>',
        to: `${r.name} <${r.email}>`,
        subject: `Welcome, ${r.name}!`,
        text: `Hi ${r.name},\nyour ${r.plan} account is ready.`,
        html: `<p>Hi ${r.name}, your ${r.plan} account is ready.</p>`,
        messageId: `<${r.id}@bench.local>`,
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = performance.now() - started;
  transporter.close();
  process.send({ ms });
}

// ---------- the driver ----------
else {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-email-'));
  const input = join(dir, 'users.jsonl');
  const plans = ['free', 'pro', 'team'];
  writeFileSync(
    input,
    Array.from({ length: MESSAGES }, (_, i) => JSON.stringify({ id: `u${i}`, name: `User ${i}`, email: `user${i}@example.test`, plan: plans[i % 3] })).join('\n') + '\n',
  );
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: bench-email
batch: { size: 500 }
source: { use: file, with: { path: users.jsonl } }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    from: Acme <hello@acme.test>
    to: "{{ record.name }} <{{ record.email }}>"
    subject: "Welcome, {{ record.name }}!"
    text: "Hi {{ record.name }},\\nyour {{ record.plan }} account is ready."
    html: "<p>Hi {{ record.name }}, your {{ record.plan }} account is ready.</p>"
  concurrency: ${CONCURRENCY}
`,
  );

  const server = fork(fileURLToPath(import.meta.url), ['--role', 'server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (message, key) =>
    new Promise((res) => {
      const on = (m) => {
        if (key in m) {
          server.off('message', on);
          res(m);
        }
      };
      server.on('message', on);
      if (message) server.send(message);
    });
  const { port } = await ask(undefined, 'port');
  const url = `smtp://127.0.0.1:${port}`;
  const accepted = async () => (await ask('count', 'accepted')).accepted;
  const received = async () => (await ask('digest', 'digest')).digest;
  // What every run must deliver: each record's message once, to its address, with its subject and plan.
  const expected = multisetDigest(Array.from({ length: MESSAGES }, (_, i) => `user${i}@example.test\tWelcome, User ${i}!\t${plans[i % 3]}`));
  const loads = { sluice: [], loop: [] };

  const timed = (command, args, options) =>
    new Promise((res, rej) => {
      const t0 = performance.now();
      const child = command(...args, options);
      let result;
      let stderr = '';
      child.on('message', (m) => (result = m));
      child.stderr?.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => (child.kill('SIGKILL'), rej(new Error('timed out'))), 300_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) rej(new Error(`exit ${code}: ${stderr}`));
        else res({ wall: performance.now() - t0, result });
      });
    });

  const runLoop = async () => {
    const { wall, result } = await timed(fork, [fileURLToPath(import.meta.url), ['--role', 'loop', '--url', url, '--input', input, '--concurrency', String(CONCURRENCY)]], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    return { ms: result.ms, wall };
  };
  const runSluice = async () => {
    const report = join(dir, 'report.json');
    const { wall } = await timed(
      spawn,
      sluiceCommand(['run', join(dir, 'job.yaml'), '--fresh', '--resend', '--progress', 'none', '--report', report], { bin: join(ROOT, 'packages/cli/dist/bin.js') }),
      { env: { ...process.env, SMTP_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const summary = JSON.parse(readFileSync(report, 'utf8'));
    if (summary.counters.written !== MESSAGES) throw new Error(`sluice wrote ${summary.counters.written} of ${MESSAGES}`);
    return { ms: summary.durationMs, wall };
  };

  const rows = { sluice: [], loop: [] };
  const verify = async (name) => {
    const got = await received();
    if (got.count !== expected.count || got.sha256 !== expected.sha256) {
      throw new Error(`${name}: the server received ${got.count} messages (expected ${expected.count}), digest ${got.sha256.slice(0, 16)}… (expected ${expected.sha256.slice(0, 16)}…); no figures`);
    }
  };
  try {
    // Warm-up (page cache, JIT of the server), not counted, but verified too.
    await runLoop();
    await verify('loop (warm-up)');
    await runSluice();
    await verify('sluice (warm-up)');
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [name, run] of round % 2 ? [['loop', runLoop], ['sluice', runSluice]] : [['sluice', runSluice], ['loop', runLoop]]) {
        const before = await accepted();
        loads[name].push(loadavg()[0]);
        const r = await run();
        const got = (await accepted()) - before;
        if (got !== MESSAGES) throw new Error(`${name}: the server accepted ${got} of ${MESSAGES}; no figures`);
        await verify(`${name} (round ${round + 1})`);
        rows[name].push(r);
      }
    }
  } catch (error) {
    server.send('stop');
    console.error(`\nbenchmark failed: ${error.message}`);
    process.exit(1);
  }
  server.send('stop');

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rate = (ms) => (MESSAGES / ms) * 1000;
  const line = (name) => {
    const ms = median(rows[name].map((r) => r.ms));
    const wall = median(rows[name].map((r) => r.wall));
    return { name, ms, rate: rate(ms), wall, all: rows[name].map((r) => Math.round(rate(r.ms))) };
  };
  const s = line('sluice');
  const l = line('loop');
  console.log(`email: ${MESSAGES} messages, concurrency ${CONCURRENCY}, ${values.rounds} rounds (median), Node ${process.version}; every run's deliveries verified (digest ${expected.sha256.slice(0, 16)}…)`);
  for (const r of [s, l]) {
    const ls = loads[r.name];
    console.log(
      `  ${r.name.padEnd(7)} ${r.rate.toFixed(0).padStart(6)} msg/s  (${r.ms.toFixed(0)} ms sending, ${r.wall.toFixed(0)} ms wall; rounds: ${r.all.join(', ')} msg/s; 1-minute load ${Math.min(...ls).toFixed(1)}–${Math.max(...ls).toFixed(1)})`,
    );
  }
  // Rounds run back to back (alternating who goes first): the ratio within a round is the least
  // disturbed by load from outside.
  const perRound = rows.sluice.map((r, i) => rows.loop[i].ms / r.ms);
  console.log(`  ratio   ${(s.rate / l.rate).toFixed(2)}× of medians; per round ${perRound.map((x) => x.toFixed(2)).join(', ')} (median ${median(perRound).toFixed(2)}×; target ≥ 0.8×)`);
}
