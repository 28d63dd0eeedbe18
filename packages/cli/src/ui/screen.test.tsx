import type { StepSnapshot } from '@sluice/core/internal';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import type { ProgressView } from '../render/watch.js';
import { keyAction } from './keys.js';
import { ProgressScreen } from './screen.js';

const step = (id: string, kind: StepSnapshot['kind'], use: string, n: Partial<StepSnapshot> = {}): StepSnapshot => ({
  id,
  kind,
  use,
  in: 0,
  out: 0,
  filtered: 0,
  failed: 0,
  retries: 0,
  retrying: 0,
  active: 0,
  rate: 0,
  p95Ms: undefined,
  ...n,
});

/** A run half-way through a 7.9 MB file: a filter, an enrich step that retries, a sink. */
function running(over: Partial<ProgressView> = {}): ProgressView {
  return {
    job: 'import-users',
    source: 'file data/users.csv',
    phase: 'running',
    elapsedMs: 12_400,
    counters: { read: 523_120, produced: 0, written: 480_002, filtered: 42_120, deadLettered: 998, skipped: 0, retries: 37 },
    steps: [
      step('source', 'source', 'file', { out: 523_120 }),
      step('clean', 'transform', 'map', { in: 523_120, out: 523_120, rate: 41_230, p95Ms: 0.012 }),
      step('active', 'transform', 'filter', { in: 523_120, out: 481_000, filtered: 42_120, rate: 41_100, p95Ms: 0.004 }),
      step('geo', 'transform', 'http', { in: 481_000, out: 480_002, failed: 998, retries: 37, retrying: 3, rate: 40_990, p95Ms: 84.2 }),
      step('sink', 'sink', 'file', { in: 480_002, out: 480_002, rate: 40_900, p95Ms: 12.3 }),
    ],
    rate: 41_230,
    total: { done: 4_300_000, total: 8_200_000, unit: 'bytes', fraction: 4_300_000 / 8_200_000 },
    etaMs: 11_000,
    checkpoint: { seq: 511, cursor: 'name=users.csv line=512000', ageMs: 400, read: 512_000 },
    checkpointLabel: '.sluice/checkpoints/import-users.json',
    checkpointing: true,
    deadLetterPath: 'out/rejects.jsonl',
    errors: [
      { atMs: 9_000, step: 'geo', kind: 'retry', text: 'attempt 2 in 200ms (users.csv:1200): HTTP 503 Service Unavailable' },
      { atMs: 10_500, step: 'geo', kind: 'dead letter', text: 'users.csv:1234: HTTP 404 for https://geo.internal/v1/*** (token ***)' },
      { atMs: 11_900, step: 'geo', kind: 'dead letter', text: 'users.csv:1301: HTTP 404' },
    ],
    notices: [],
    batchesInFlight: 4,
    resumed: false,
    dryRun: false,
    ...over,
  };
}

const lines = (frame: string | undefined) => (frame ?? '').split('\n');
const widest = (frame: string | undefined) => Math.max(...lines(frame).map((l) => l.length));

describe('the progress screen', () => {
  it('shows the job, source, phase, elapsed time, percent bar with ETA, and the totals', () => {
    const { lastFrame } = render(<ProgressScreen view={running()} columns={80} />);
    const frame = lastFrame()!;
    const [title, bar, totals] = lines(frame);
    expect(title).toMatch(/^import-users {2}file data\/users\.csv +running {2}0:12$/);
    expect(bar).toMatch(/^#+\.+ {2,3}52\.4% {2}4\.1 MB \/ 7\.8 MB {2}ETA 0:11$/);
    expect(totals).toContain('read 523,120');
    expect(totals).toContain('41,230/s');
    expect(frame).toContain('written 480,002');
    expect(frame).toContain('dead-lettered 998');
    expect(frame).toContain('retries 37');
    expect(frame).toContain('4 in flight');
  });

  it('has one row per step with in, out, filtered, failed, retrying, rate and p95', () => {
    const frame = render(<ProgressScreen view={running()} columns={80} />).lastFrame()!;
    const header = lines(frame).find((l) => l.startsWith('step'))!;
    expect(header.split(/\s+/)).toEqual(['step', 'in', 'out', 'filtered', 'failed', 'retrying', 'rate/s', 'p95']);
    const row = (id: string) => lines(frame).find((l) => l.startsWith(`${id} `))!.trim().split(/\s{2,}/);
    expect(row('source')).toEqual(['source (file)', '-', '523,120', '-', '0', '-', '41,230', '-']);
    expect(row('active')).toEqual(['active (filter)', '523,120', '481,000', '42,120', '0', '0', '41,100', '4us']);
    expect(row('geo')).toEqual(['geo (http)', '481,000', '480,002', '0', '998', '3', '40,990', '84ms']);
    expect(row('sink')).toEqual(['sink (file)', '480,002', '480,002', '-', '0', '0', '40,900', '12ms/b']);
  });

  it('shows the checkpoint and its age, the dead letters, the last three errors and the keys', () => {
    const frame = render(<ProgressScreen view={running()} columns={100} />).lastFrame()!;
    expect(frame).toContain('checkpoint batch 511, saved 400ms ago, 512,000 read, name=users.csv line=512000');
    expect(frame).toContain('dead letters 998 in out/rejects.jsonl');
    const errors = lines(frame).slice(lines(frame).indexOf('last errors') + 1, -1);
    expect(errors).toEqual([
      '  0:09 geo retry attempt 2 in 200ms (users.csv:1200): HTTP 503 Service Unavailable',
      '  0:10 geo dead letter users.csv:1234: HTTP 404 for https://geo.internal/v1/*** (token ***)',
      '  0:11 geo dead letter users.csv:1301: HTTP 404',
    ]);
    expect(lines(frame).at(-1)).toBe('q or Ctrl-C: stop (drain, checkpoint, exit 130)   Ctrl-C twice: quit now');
  });

  it('shows a running count with its rate when the source cannot estimate its total', () => {
    const view = running({ counters: { ...running().counters, read: 1_234 }, rate: 2.5, errors: [], checkpoint: undefined });
    delete (view as { total?: unknown }).total;
    delete (view as { etaMs?: unknown }).etaMs;
    const frame = render(<ProgressScreen view={view} columns={80} />).lastFrame()!;
    expect(lines(frame)[1]).toBe('1,234 records read  2.5/s');
    expect(frame).not.toContain('%');
    expect(frame).not.toContain('ETA');
    expect(frame).toContain('checkpoint none yet');
    expect(frame).toContain('last errors none');
  });

  it('says ETA -- until the pace is known, and no ETA once done', () => {
    expect(lines(render(<ProgressScreen view={running({ etaMs: undefined })} columns={80} />).lastFrame())[1]).toMatch(/ETA --$/);
    const done = render(<ProgressScreen view={running({ phase: 'done', total: { done: 8_200_000, total: 8_200_000, unit: 'bytes', fraction: 1 } })} columns={80} />).lastFrame()!;
    expect(lines(done)[0]).toMatch(/done {2}0:12$/);
    expect(lines(done)[1]).toMatch(/^#+ {2}100\.0% {2}7\.8 MB \/ 7\.8 MB$/);
    expect(done).not.toContain('q or Ctrl-C');
  });

  it('warns of a retry storm and a nearly spent error budget', () => {
    const frame = render(
      <ProgressScreen
        view={running({
          notices: [
            { kind: 'retryStorm', text: 'retry storm in geo: 57 retries in the last 10s (last: HTTP 503)' },
            { kind: 'budget', text: 'error budget 85% spent: 85 of 100 failed records allowed (errors.maxFailed)' },
          ],
        })}
        columns={100}
      />,
    ).lastFrame()!;
    expect(frame).toContain('! retry storm in geo: 57 retries in the last 10s (last: HTTP 503)');
    expect(frame).toContain('! error budget 85% spent: 85 of 100 failed records allowed (errors.maxFailed)');
  });

  it('says what happens while stopping', () => {
    const frame = render(<ProgressScreen view={running({ phase: 'stopping', reason: 'stopped by q', batchesInFlight: 2 })} columns={100} />).lastFrame()!;
    expect(lines(frame)[0]).toMatch(/stopping {2}0:12$/);
    expect(lines(frame).at(-1)).toBe('stopping (stopped by q): finishing 2 batches in flight, then the checkpoint; Ctrl-C: quit now');
  });

  it('counts in millions stay in their columns', () => {
    const big = running({
      steps: [step('source', 'source', 'file', { out: 123_456_789 }), step('sink', 'sink', 'sql', { in: 123_456_789, out: 123_456_789, rate: 250_000, p95Ms: 1500 })],
      rate: 250_000,
    });
    const frame = render(<ProgressScreen view={big} columns={80} />).lastFrame()!;
    expect(widest(frame)).toBeLessThanOrEqual(80);
    expect(lines(frame).find((l) => l.startsWith('sink'))!.trim().split(/\s{2,}/)).toEqual(['sink (sql)', '123M', '123M', '-', '0', '0', '250k', '1.5s/b']);
  });

  it.each([80, 60, 40])('fits a %i-column terminal, keeping every step row', (columns) => {
    const frame = render(<ProgressScreen view={running()} columns={columns} />).lastFrame()!;
    expect(widest(frame)).toBeLessThanOrEqual(columns);
    for (const id of ['source', 'clean', 'active', 'geo', 'sink']) expect(lines(frame).filter((l) => l.startsWith(id)).length).toBe(1);
    expect(lines(frame)[0]).toMatch(/^import-users/);
    expect(lines(frame)[0]).toMatch(/running {2}0:12$/);
    expect(lines(frame)[1]).toMatch(/52\.4%/);
  });

  it('drops the least useful columns first on a narrow terminal', () => {
    const header = (columns: number) => lines(render(<ProgressScreen view={running()} columns={columns} />).lastFrame()).find((l) => l.startsWith('step'))!.split(/\s+/);
    expect(header(80)).toContain('p95');
    expect(header(60)).toEqual(['step', 'in', 'out', 'failed', 'retrying', 'rate/s']);
    expect(header(40)).toEqual(['step', 'in', 'out', 'failed']);
  });

  it('gives way to the terminal height: errors first, then steps', () => {
    const tall = render(<ProgressScreen view={running()} columns={80} rows={40} />).lastFrame()!;
    expect(tall).toContain('last errors');
    const short = render(<ProgressScreen view={running()} columns={80} rows={16} />).lastFrame()!;
    expect(short).not.toContain('last errors');
    expect(lines(short).length).toBeLessThan(16);
    const tiny = render(<ProgressScreen view={running()} columns={80} rows={12} />).lastFrame()!;
    expect(tiny).toMatch(/\.\.\. \d more steps/);
    expect(lines(tiny).length).toBeLessThan(12);
  });
});

describe('keys', () => {
  it.each([
    ['q', 'stop'],
    ['Q', 'stop'],
    ['\u0003', 'interrupt'],
    ['x\u0003', 'interrupt'],
    ['x', undefined],
    ['qq', undefined],
  ] as const)('%j asks for %s', (data, action) => {
    expect(keyAction(data)).toBe(action);
  });
});
