import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'packages/cli/dist/bin.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function tempDir(prefix = 'sluice-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs the built `sluice` as a child process; kills it and fails after `timeoutMs`. */
export function sluice(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = start(args, options);
  return finished(child, options.timeoutMs ?? 60_000);
}

export function start(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess & { output: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { output: { stdout: string; stderr: string } };
  child.output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (child.output.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (child.output.stderr += d));
  return child;
}

/**
 * Every CLI run's time limit is a hang guard, never a performance check: under a loaded machine a
 * run that takes 1 s when quiet can take tens of seconds, so no guard is shorter than this.
 */
const HANG_GUARD_MS = 150_000;

export function finished(child: ChildProcess & { output: { stdout: string; stderr: string } }, timeoutMs: number): Promise<CliResult> {
  const limit = Math.max(timeoutMs, HANG_GUARD_MS);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice did not finish within ${limit}ms\nstdout: ${child.output.stdout}\nstderr: ${child.output.stderr}`));
    }, limit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: child.output.stdout, stderr: child.output.stderr });
    });
  });
}

/**
 * SIGKILLs a running child at a moment `moment()` sees (polled every `pollMs`), after letting
 * `skip` such moments pass, so that kills land at different points of a run. Resolves true when it
 * killed the child, false when the child ended first.
 */
export async function killAtMoment(child: ChildProcess, moment: () => Promise<boolean>, { skip, pollMs }: { skip: number; pollMs: number }): Promise<boolean> {
  let left = skip;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if ((await moment()) && left-- <= 0) {
      child.kill('SIGKILL');
      return true;
    }
    await new Promise((resolveDelay) => setTimeout(resolveDelay, pollMs));
  }
}

/** Deterministic pseudo-random numbers (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
