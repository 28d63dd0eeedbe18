// The crash-test machinery shared by `sluice crash-test` and `crashTest`: an uninterrupted run,
// then per fault point a fresh run in a child process that the engine's hook kills with SIGKILL
// there, resumed (and killed again, when asked) until it finishes; then what every sink holds and
// what the source read are compared with the uninterrupted run's.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRASH_POINTS, FAULTS_ENV, type CrashPoint, type FaultSpec } from '../engine/faults.js';
import type { SinkGuarantee, SluiceRecord } from '../plugin/types.js';
import { kept, tally, type Tally } from './crash-compare.js';
import { readJournal, type CrashSite } from './crash-journal.js';

export { CRASH_POINTS, type CrashPoint };

/** How one child run ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The end of what it wrote to stderr, for the report when it failed. */
  readonly stderr: string;
}

/** What one sink holds after a scenario, read back through its plugin's `readBack`. */
export interface SinkHolding {
  readonly sink: string;
  /** Declared by the plugin; undefined when it declares none. */
  readonly guarantee?: SinkGuarantee;
  readonly ordered: boolean;
  /** Undefined when the plugin has no `readBack`: the sink cannot be checked. */
  readonly records?: readonly SluiceRecord[];
}

/** Runs the job under test; `sluice crash-test` starts `sluice run`, `crashTest` a runner of its own. */
export interface CrashLauncher {
  /** Runs the job once in a child process with `env` added; `fresh` for the first run of a scenario. */
  run(scenario: string, o: { readonly fresh: boolean; readonly env: Readonly<Record<string, string>> }): Promise<ChildExit>;
  /** What each sink holds once the runs of `scenario` are over. */
  readBack(scenario: string): Promise<SinkHolding[]>;
}

export interface CrashRunOptions {
  /** Where each scenario keeps its spec files and journals (and the launcher its outputs). */
  readonly scratch: string;
  /** The points to crash at (default every point). */
  readonly points?: readonly CrashPoint[];
  /** Crashes in a row per scenario, each at a later batch (default 1). */
  readonly crashes?: number;
  /** Stop reading after this many records, in every run (whole pages). */
  readonly records?: number;
  /** Compare records by this field instead of by their whole content. */
  readonly key?: string;
  /** Told as each scenario ends (for a progress line). */
  readonly onScenario?: (scenario: CrashScenario) => void;
}

/** How one sink fared in one scenario. */
export interface SinkFinding extends Partial<Tally> {
  readonly sink: string;
  readonly guarantee: SinkGuarantee;
  /** False when the plugin declares no guarantee (it is then judged as at-least-once). */
  readonly declared: boolean;
  readonly ordered: boolean;
  readonly verdict: 'passed' | 'failed' | 'not checked';
}

/** How the source fared: what the job read across crashes and resumes, against the uninterrupted run. */
export interface SourceFinding extends Tally {
  readonly verdict: 'passed' | 'failed';
}

/** One fault point's scenario. */
export interface CrashScenario {
  readonly point: CrashPoint;
  /** Where each run killed itself; fewer than asked when the job never reached the point again (or at all). */
  readonly crashes: readonly CrashSite[];
  /** Child runs, the resumes included. */
  readonly runs: number;
  /** Set when a run ended other than by the hook's kill or success (a resume refused, a failure). */
  readonly error?: string;
  readonly source: SourceFinding;
  readonly sinks: readonly SinkFinding[];
  /** No error, the source read what it should, and no sink that was checked broke its guarantee. */
  readonly passed: boolean;
}

export interface CrashReport {
  /** Every scenario passed, and at least one sink or the source was checked. */
  readonly passed: boolean;
  /** Records and batches of the uninterrupted run. */
  readonly records: number;
  readonly batches: number;
  readonly scenarios: readonly CrashScenario[];
}

/** The uninterrupted run could not be made: nothing can be compared. */
export class CrashTestError extends Error {
  override readonly name = 'CrashTestError';
}

/** Runs every scenario, one after the other (each is a few child processes). */
export async function runCrashTest(launcher: CrashLauncher, o: CrashRunOptions): Promise<CrashReport> {
  const points = o.points ?? CRASH_POINTS;
  const crashes = o.crashes ?? 1;
  const runner = new ScenarioRunner(launcher, o);

  const reference = await runner.runs('reference', []);
  if (reference.error) throw new CrashTestError(`the uninterrupted run failed: ${reference.error}`);
  const expected = readJournal(runner.journalOf('reference'));
  const references = await launcher.readBack('reference');

  const scenarios: CrashScenario[] = [];
  for (const point of points) {
    // Crash k of n at the batch k/(n+1) of the way through, and only once a checkpoint stands
    // behind it, so that each next run resumes (rather than starts over).
    const seqs = Array.from({ length: crashes }, (_, k) => Math.floor(((k + 1) * expected.batches) / (crashes + 1)));
    const scenario = point;
    const { error, runs } = await runner.runs(scenario, seqs.map((seq) => ({ point, seq, afterCheckpoint: true })));
    const journal = readJournal(runner.journalOf(scenario));
    const source = tally(expected.read, journal.read, { ...(o.key !== undefined ? { key: o.key } : {}), ordered: true });
    const sourceFinding: SourceFinding = { ...source, verdict: kept('exactly-once', source) ? 'passed' : 'failed' };
    const holdings = error ? [] : await launcher.readBack(scenario);
    const sinks = references.map((ref) => judgeSink(ref, holdings.find((h) => h.sink === ref.sink), o.key));
    const result: CrashScenario = {
      point,
      crashes: [...journal.crashes.values()],
      runs,
      ...(error ? { error } : {}),
      source: sourceFinding,
      sinks,
      passed: !error && sourceFinding.verdict === 'passed' && sinks.every((s) => s.verdict !== 'failed'),
    };
    scenarios.push(result);
    o.onScenario?.(result);
  }
  return { passed: scenarios.every((s) => s.passed), records: expected.read.length, batches: expected.batches, scenarios };
}

function judgeSink(ref: SinkHolding, held: SinkHolding | undefined, key: string | undefined): SinkFinding {
  const base = { sink: ref.sink, guarantee: ref.guarantee ?? 'at-least-once', declared: ref.guarantee !== undefined, ordered: ref.ordered } as const;
  if (ref.records === undefined || held?.records === undefined) return { ...base, verdict: 'not checked' };
  const t = tally(ref.records, held.records, { ...(key !== undefined ? { key } : {}), ordered: ref.ordered });
  return { ...base, ...t, verdict: kept(base.guarantee, t) ? 'passed' : 'failed' };
}

class ScenarioRunner {
  constructor(
    private readonly launcher: CrashLauncher,
    private readonly o: CrashRunOptions,
  ) {}

  journalOf(scenario: string): string {
    return join(this.o.scratch, scenario, 'journal');
  }

  /**
   * Runs a scenario: the first run fresh, each later one a resume; run i dies at `crashes[i]`
   * (or at the first batch after it the point is reached), the last one runs to the end. A run
   * that ends without its crash ends the scenario: the job finished.
   */
  async runs(scenario: string, crashes: ReadonlyArray<NonNullable<FaultSpec['crash']>>): Promise<{ runs: number; error?: string }> {
    const folder = join(this.o.scratch, scenario);
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    for (let run = 0; run <= crashes.length; run++) {
      const token = randomBytes(16).toString('hex');
      const spec: FaultSpec = {
        token,
        run,
        journal: this.journalOf(scenario),
        ...(this.o.records !== undefined ? { records: this.o.records } : {}),
        // Bursts of 3 batches with a checkpoint between them: every crash has one behind it, and
        // a pipelined sink still gets batches back to back.
        pace: 3,
        ...(run < crashes.length ? { crash: crashes[run]! } : {}),
      };
      const file = join(folder, `spec-${run}.json`);
      writeFileSync(file, JSON.stringify(spec));
      const exit = await this.launcher.run(scenario, { fresh: run === 0, env: { [FAULTS_ENV]: `${token}:${file}` } });
      // The spec goes with its run: a leftover SLUICE_FAULTS arms nothing.
      rmSync(file, { force: true });
      const killed = exit.signal === 'SIGKILL' && readJournal(this.journalOf(scenario)).crashes.has(run);
      if (killed && run < crashes.length) continue;
      if (exit.code === 0) return { runs: run + 1 };
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      return { runs: run + 1, error: `run ${run + 1} (${run === 0 ? 'fresh' : 'resumed'}) ${how}${exit.stderr.trim() ? `: ${exit.stderr.trim()}` : ''}` };
    }
    return { runs: crashes.length + 1 };
  }
}
