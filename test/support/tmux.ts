import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether tmux is installed (the pseudo-terminal tests need it; CI installs it). */
export function hasTmux(): boolean {
  return spawnSync('tmux', ['-V'], { timeout: 5000 }).status === 0;
}

let sessions = 0;

/**
 * A private tmux server (its own socket in `dir`) with one session: a real pseudo-terminal for
 * end-to-end tests of the progress screen. Every call has a timeout; `kill()` ends the server.
 */
export class TmuxSession {
  private readonly socket: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    dir: string,
    readonly name = 'sluice',
  ) {
    // A socket per session: a server still shutting down never meets the next one.
    this.socket = join(dir, `tmux-${name}-${++sessions}.sock`);
    // A terminal as a user has it: UTF-8, colours; not a CI log (Ink only prints the last frame there), not nested in tmux.
    const env: NodeJS.ProcessEnv = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TERM: 'xterm-256color' };
    for (const key of Object.keys(env)) if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key === 'TMUX' || key === 'NO_COLOR') delete env[key];
    this.env = env;
  }

  private tmux(...args: string[]): string {
    const result = spawnSync('tmux', ['-u', '-S', this.socket, '-f', '/dev/null', ...args], { env: this.env, encoding: 'utf8', timeout: 10_000 });
    if (result.status !== 0) throw new Error(`tmux ${args[0]} failed (${result.status ?? result.signal}): ${result.stderr || result.error?.message}`);
    return result.stdout;
  }

  /** Starts `command` (a shell command line) in a `columns`×`rows` terminal. */
  start(command: string, columns = 100, rows = 40, cwd?: string): void {
    // Under heavy load a fresh tmux server sometimes dies while starting ("server exited
    // unexpectedly") before it ran anything; try again a couple of times.
    for (let attempt = 1; ; attempt++) {
      try {
        this.tmux('new-session', '-d', '-s', this.name, '-x', String(columns), '-y', String(rows), ...(cwd ? ['-c', cwd] : []), command);
        return;
      } catch (error) {
        if (attempt >= 3 || !/server exited unexpectedly/.test((error as Error).message)) throw error;
      }
    }
  }

  /** The screen as text, one line per row, trailing blanks trimmed. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', this.name)
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n')
      .trimEnd();
  }

  /** The screen with up to `lines` of scrollback above it, as text. */
  history(lines = 500): string {
    return this.tmux('capture-pane', '-p', '-S', String(-lines), '-t', this.name)
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n')
      .trimEnd();
  }

  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', this.name, ...keys);
  }

  resize(columns: number, rows: number): void {
    this.tmux('resize-window', '-t', this.name, '-x', String(columns), '-y', String(rows));
  }

  /** Polls the screen until `test` holds; fails after `timeoutMs` showing the last screen. */
  async waitFor(test: (screen: string) => boolean, timeoutMs: number, what = 'the screen'): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.screen();
      if (test(screen)) return screen;
      await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; the screen:\n${screen}`);
  }

  kill(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server'], { env: this.env, timeout: 10_000 });
  }
}
