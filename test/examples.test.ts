import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir, type CliResult } from './support/cli.js';
import { balances, readJsonl, STACK_LINE } from './support/files.js';

const JOBS = join(ROOT, 'jobs');

/** The runnable examples: every job file but the job tests, and none that needs an outside service. */
const examples = readdirSync(JOBS)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'))
  .filter((f) => !/^connections:|use: (http|sql|email)\b/m.test(readFileSync(join(JOBS, f), 'utf8')))
  .sort();

/** A copy of jobs/ without earlier outputs, so runs neither write into the repo nor resume from its checkpoints. */
let copy: string;
const runs = new Map<string, Promise<CliResult>>();

/** Each example runs once (concurrently with the others); the tests below look at what it left. */
function run(file: string): Promise<CliResult> {
  let result = runs.get(file);
  if (!result) runs.set(file, (result = sluice(['run', join(copy, file), '--progress', 'none', '--report', join(copy, `${file}.report.json`)], { cwd: copy, timeoutMs: 30_000 })));
  return result;
}

beforeAll(() => {
  copy = join(tempDir('sluice-examples-'), 'jobs');
  mkdirSync(copy);
  for (const entry of readdirSync(JOBS)) {
    if (entry === 'out' || entry === '.sluice') continue;
    cpSync(join(JOBS, entry), join(copy, entry), { recursive: true });
  }
  for (const file of examples) void run(file).catch(() => undefined);
});

const report = (file: string) => JSON.parse(readFileSync(join(copy, `${file}.report.json`), 'utf8'));

describe('the example jobs', () => {
  it('are the three documented ones, at least', () => {
    expect(examples).toEqual(expect.arrayContaining(['events-dedupe.yaml', 'hello.yaml', 'orders-report.yaml']));
  });

  it("all validate: sluice validate 'jobs/*.yaml' exits 0", async () => {
    const result = await sluice(['validate', 'jobs/*.yaml'], { cwd: ROOT, timeoutMs: 30_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const count = readdirSync(JOBS).filter((f) => f.endsWith('.yaml')).length;
    expect(result.stdout).toContain(`${count} files: ${count} valid, 0 invalid`);
  });

  it.each(examples)('%s runs to the end: exit 0, no stack trace, the counts balance', async (file) => {
    const result = await run(file);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(STACK_LINE);
    const summary = report(file);
    expect(summary.status).toBe('done');
    expect(balances(summary.counters)).toBe(true);
  });
});

describe('hello.yaml', () => {
  const header = () => readFileSync(join(copy, 'data/users.csv'), 'utf8').split('\n')[0]!.split(',');
  const rows = () =>
    readFileSync(join(copy, 'data/users.csv'), 'utf8')
      .split('\n')
      .map((text, i) => ({ line: i + 1, text }))
      .slice(1)
      .filter((r) => r.text !== '');

  it('writes the 13 active, valid users, cleaned', async () => {
    const result = await run('hello.yaml');
    expect(result.code, result.stderr).toBe(0);
    const users = readJsonl(join(copy, 'out/users.jsonl'));
    expect(users).toHaveLength(13);
    expect(users.map((u) => u.id)).toEqual([1, 2, 3, 5, 7, 11, 12, 13, 14, 17, 18, 19, 20]);

    // Each output record is its CSV row, transformed as the job says.
    const columns = header();
    const byId = new Map(
      rows().map((r) => {
        const fields = r.text.split(',');
        return [Number(fields[0]), Object.fromEntries(columns.map((c, i) => [c, fields[i]]))];
      }),
    );
    for (const user of users) {
      const row = byId.get(user.id as number)!;
      expect(user).toEqual({
        id: Number(row.id),
        name: `${row.first_name} ${row.last_name}`,
        email: row.email!.trim().toLowerCase(),
        country: row.country!.toUpperCase(),
        status: 'active',
        age: Number(row.age),
      });
      expect(user.email).toBe((user.email as string).toLowerCase());
      expect(user.country).toMatch(/^[A-Z]{2}$/);
    }
  });

  it('dead-letters two malformed CSV rows (with line and raw text) and two invalid records (with the record)', async () => {
    await run('hello.yaml');
    const rejects = readJsonl(join(copy, 'out/hello.rejects.jsonl'));
    expect(rejects).toHaveLength(4);
    const lines = readFileSync(join(copy, 'data/users.csv'), 'utf8').split('\n');

    const fromSource = rejects.filter((r) => r.step === 'source');
    expect(fromSource.map((r) => r.position)).toEqual([
      { file: 'data/users.csv', line: 10 },
      { file: 'data/users.csv', line: 17 },
    ]);
    for (const r of fromSource) {
      expect(r.record).toBeUndefined();
      expect(typeof r.raw).toBe('string');
      expect((r.raw as string).length).toBeGreaterThan(0);
      expect(typeof r.error).toBe('string');
    }
    // Line 10 has a stray quote: its raw text is that row.
    expect(fromSource[0]!.error).toMatch(/quote/);
    expect(fromSource[0]!.raw).toBe(lines[9]);
    // Line 17 has a field too many: its raw text is the whole row.
    expect(fromSource[1]!.error).toMatch(/wrong number of fields/);
    expect(fromSource[1]!.raw).toBe(lines[16]);

    const fromCheck = rejects.filter((r) => r.step === 'check');
    expect(fromCheck).toHaveLength(2);
    expect(fromCheck.map((r) => (r.record as { id: number }).id)).toEqual([6, 10]);
    expect(fromCheck[0]).toMatchObject({ record: { id: 6, email: 'not-an-email' }, position: { file: 'data/users.csv', line: 7 } });
    expect(fromCheck[0]!.error).toMatch(/email/);
    expect(fromCheck[1]).toMatchObject({ record: { id: 10, age: -3 }, position: { file: 'data/users.csv', line: 11 } });
    expect(fromCheck[1]!.error).toMatch(/age/);
  });

  it('prints the equation in its summary', async () => {
    const result = await run('hello.yaml');
    expect(result.stdout).toContain('read 20 = written 13 + filtered 3 + dead-lettered 4 + skipped 0');
    expect(report('hello.yaml').counters).toMatchObject({ read: 20, written: 13, filtered: 3, deadLettered: 4, skipped: 0 });
  });
});

describe('orders-report.yaml', () => {
  it('writes the orders over 50 as CSV with a total in cents, and dead-letters the unparseable lines', async () => {
    const result = await run('orders-report.yaml');
    expect(result.code, result.stderr).toBe(0);

    // Expected values, from the input.
    const good: Array<{ line: number; order: Record<string, unknown> }> = [];
    const bad: number[] = [];
    readFileSync(join(copy, 'data/orders.jsonl'), 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (text.trim() === '') return;
        try {
          good.push({ line: i + 1, order: JSON.parse(text) });
        } catch {
          bad.push(i + 1);
        }
      });
    const big = good.map((g) => g.order).filter((o) => (o.amount as number) > 50);
    const read = good.length + bad.length;
    expect(bad.length).toBeGreaterThan(0);

    const csv = readFileSync(join(copy, 'out/big-orders.csv'), 'utf8').trimEnd().split('\n');
    expect(csv[0]).toBe('id,customer,city,items,amount,total_cents');
    const rows = csv.slice(1).map((line) => line.split(','));
    expect(rows).toHaveLength(big.length);
    rows.forEach((row, i) => {
      const order = big[i]!;
      expect(row).toEqual([
        String(order.id),
        order.customer,
        (order.city as string).toUpperCase(),
        String(order.items),
        String(order.amount),
        String(Math.round((order.amount as number) * 100)),
      ]);
    });

    const dead = readJsonl(join(copy, '.sluice/dead-letter/orders-report.jsonl'));
    expect(dead.map((d) => (d.position as { line: number }).line)).toEqual(bad);
    expect(dead.every((d) => d.step === 'source' && typeof d.raw === 'string')).toBe(true);

    const counts = { read, written: big.length, filtered: good.length - big.length, deadLettered: bad.length, skipped: 0 };
    expect(report('orders-report.yaml').counters).toMatchObject(counts);
    expect(result.stdout).toContain(
      `read ${read.toLocaleString('en-US')} = written ${counts.written} + filtered ${counts.filtered} + dead-lettered ${counts.deadLettered} + skipped 0`,
    );
  });
});

describe('events-dedupe.yaml', () => {
  it('keeps the first event of each id, marks purchases, and writes a JSON array and a gzipped copy', async () => {
    const result = await run('events-dedupe.yaml');
    expect(result.code, result.stderr).toBe(0);

    // Expected values, from the input: the files in name order, first occurrence of each id wins.
    const folder = join(copy, 'data/events');
    const events = readdirSync(folder)
      .filter((f) => f.endsWith('.jsonl.gz'))
      .sort()
      .flatMap((f) =>
        gunzipSync(readFileSync(join(folder, f)))
          .toString('utf8')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    const seen = new Set<unknown>();
    const expected = events
      .filter((e) => (seen.has(e.event_id) ? false : (seen.add(e.event_id), true)))
      .map((e) => (e.type === 'buy' ? { ...e, purchase: true } : e));
    expect(expected.length).toBeLessThan(events.length);

    expect(JSON.parse(readFileSync(join(copy, 'out/events.json'), 'utf8'))).toEqual(expected);
    const archived = gunzipSync(readFileSync(join(copy, 'out/events.jsonl.gz')))
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
    expect(archived).toEqual(expected);

    const counts = { read: events.length, written: expected.length, filtered: events.length - expected.length, deadLettered: 0, skipped: 0 };
    expect(report('events-dedupe.yaml').counters).toMatchObject(counts);
    expect(result.stdout).toContain(`read ${counts.read} = written ${counts.written} + filtered ${counts.filtered} + dead-lettered 0 + skipped 0`);
  });
});
