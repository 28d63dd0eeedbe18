// The file sink's truncation on resume, seen from the CLI. A resumed run writes at its checkpointed
// size, so when it writes the same bytes again a missing truncation hides behind them; here the
// resumed run writes nothing past the checkpoint (a filter over an ${env:} value that changed, which
// does not change the job's fingerprint), so whatever the killed run wrote beyond its checkpoint must
// be cut off by the resume — or it stays in the output as records no run accounts for.
import { createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finished, sluice, start, tempDir } from './support/cli.js';
import { checkpointPast, followEvents } from './support/events.js';

const RECORDS = 20_000;
const BATCH = 200;

// A second, throttled sink holds the checkpoint back while `out` has already written further.
const JOB = `version: 1
name: trunc
batch: { size: ${BATCH}, inFlight: 6 }
source: { use: file, with: { path: in.jsonl } }
steps:
  - use: filter
    with: { where: "record.id < \${env:UPTO}" }
sinks:
  - id: out
    use: file
    with: { path: out/out.jsonl }
  - id: slow
    use: file
    with: { path: out/slow.jsonl }
    rateLimit: 40/s
`;

interface Saved {
  counters: { read: number };
  sinks: { out: { size: number; records: number } };
}

describe('file sink: resume truncates what a killed run wrote past its checkpoint', () => {
  it('SIGKILL with output past the checkpoint, then a resume that writes nothing more: the output is exactly the checkpointed prefix', async () => {
    const dir = tempDir('sluice-truncation-');
    const input = createWriteStream(join(dir, 'in.jsonl'));
    for (let id = 0; id < RECORDS; id++) input.write(`${JSON.stringify({ id, name: `user-${id}` })}\n`);
    input.end();
    await once(input, 'finish');
    writeFileSync(join(dir, 'job.yaml'), JOB);
    const output = join(dir, 'out/out.jsonl');
    const checkpoint = join(dir, '.sluice/checkpoints/trunc.json');

    // Kill runs (each resuming the last) until one leaves output past its checkpoint.
    let killed: { saved: Saved; bytes: Buffer } | undefined;
    for (let run = 0; !killed && run < 5; run++) {
      const child = start(['run', 'job.yaml', '--progress', 'json'], { cwd: dir, env: { UPTO: String(RECORDS) } });
      const exited = finished(child, 120_000);
      const events = followEvents(child);
      // Two checkpoints further than where this run started: sinks are writing, the checkpoint trails.
      const started = await events.next((e) => e.type === 'start');
      const from = (started?.counters as { read: number } | undefined)?.read ?? 0;
      if (await events.next(checkpointPast(from + 2 * BATCH))) child.kill('SIGKILL');
      const result = await exited;
      expect(result.signal, `run ${run} ended before its kill (${result.code}): ${result.stderr}`).toBe('SIGKILL');
      const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as Saved;
      const size = statSync(output).size;
      expect(size, 'the output is never behind its checkpoint').toBeGreaterThanOrEqual(saved.sinks.out.size);
      if (size > saved.sinks.out.size) killed = { saved, bytes: readFileSync(output) };
    }
    expect(killed, 'no kill left output past the checkpoint in 5 runs').toBeDefined();
    const { saved, bytes } = killed!;
    expect(saved.counters.read).toBeLessThan(RECORDS);

    // Resumed with UPTO=0: every record after the checkpoint is filtered, nothing more is written.
    const resumed = await sluice(['run', 'job.yaml', '--progress', 'none', '--report', 'report.json'], { cwd: dir, env: { UPTO: '0' }, timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = readFileSync(output);
    // Exactly the checkpointed prefix: no byte of what the killed run wrote past it.
    expect(after.length, `killed run left ${bytes.length} bytes, checkpoint ${saved.sinks.out.size}`).toBe(saved.sinks.out.size);
    expect(after.equals(bytes.subarray(0, saved.sinks.out.size))).toBe(true);
    const ids = after.toString().trim().split('\n').map((line) => (JSON.parse(line) as { id: number }).id);
    expect(ids).toEqual(Array.from({ length: saved.sinks.out.records }, (_, i) => i));
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { counters: { read: number; filtered: number } };
    expect(report.counters).toMatchObject({ read: RECORDS, filtered: RECORDS - saved.sinks.out.records });
  }, 300_000);
});
