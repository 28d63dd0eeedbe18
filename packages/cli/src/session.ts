import { writeFile } from 'node:fs/promises';
import type { RunSummary } from '@sluice/core/internal';
import { jsonRenderer, type JsonRenderer } from './render/json.js';
import { plainRenderer, type Renderer } from './render/plain.js';
import type { RunReport } from './render/report.js';
import type { RunWatch } from './render/watch.js';
import type { TuiRenderer } from './ui/tui.js';

export type ProgressMode = 'auto' | 'tui' | 'plain' | 'json' | 'none';

export interface SessionOptions {
  /** `--progress`. */
  readonly mode: ProgressMode;
  /** The run's events and progress, as the renderers draw them. */
  readonly watch: RunWatch;
  /** The first interrupt (a signal, Ctrl-C or `q` on the screen): stop gracefully for `reason`. */
  readonly stop: (reason: string) => void;
  /** What the second interrupt's line says after `exiting now; `. */
  readonly onHardExit: string;
  /** Where a screen may be drawn (tests pass their own). */
  readonly isTerminal?: (stream: NodeJS.WriteStream) => boolean;
}

/**
 * One CLI run as the user sees it, the same for a local run, a distributed coordinator and a
 * `--threads` run: the renderer `--progress` picks, the two-stage interrupt (the first stops
 * gracefully, a second exits 130 at once), the summary on stdout (stderr when the run did not
 * finish, or with JSON progress), the report file and the exit code.
 */
export class RunSession {
  private renderer: Renderer | undefined;
  private json: JsonRenderer | undefined;
  private screen: TuiRenderer | undefined;
  private interrupts = 0;
  private readonly onSignal = (signal: NodeJS.Signals) => this.interrupt(signal);

  private constructor(
    private readonly o: SessionOptions,
    /** The renderer `--progress auto` resolved to. */
    readonly effective: Exclude<ProgressMode, 'auto'>,
  ) {}

  /** Takes SIGINT and SIGTERM, then starts the renderer (the screen's module loads only for the screen). */
  static async open(o: SessionOptions): Promise<RunSession> {
    const effective = o.mode === 'auto' ? ((o.isTerminal ?? isTerminal)(process.stderr) ? 'tui' : 'plain') : o.mode;
    const session = new RunSession(o, effective);
    process.on('SIGINT', session.onSignal);
    process.on('SIGTERM', session.onSignal);
    try {
      if (effective === 'tui') {
        // Ink itself loads in its drawing thread.
        const { tuiRenderer } = await import('./ui/tui.js');
        session.renderer = session.screen = await tuiRenderer(o.watch, {
          stdout: process.stderr,
          stdin: process.stdin,
          onStop: () => {
            if (session.interrupts === 0) session.interrupt('q');
          },
          onInterrupt: () => session.interrupt('Ctrl-C'),
        });
      } else if (effective === 'plain') session.renderer = plainRenderer(o.watch, process.stderr);
      else if (effective === 'json') session.renderer = session.json = jsonRenderer(o.watch, process.stdout);
      else o.watch.close();
    } catch (error) {
      session.release();
      throw error;
    }
    return session;
  }

  private interrupt(by: string): void {
    this.interrupts++;
    if (this.interrupts === 1) {
      this.o.stop(by === 'q' ? 'stopped by q' : `interrupted by ${by}`);
      return;
    }
    if (this.screen) this.screen.abort();
    else void this.renderer?.stop();
    process.stderr.write(`\nsluice: ${by} again: exiting now; ${this.o.onHardExit}\n`);
    process.exit(130);
  }

  /** The run is over: signals go back to Node's defaults. Idempotent. */
  release(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  /** A refusal at start (exit 2): one line on stderr (and the JSON stream's error), the screen gone. */
  async refuse(message: string): Promise<number> {
    this.release();
    this.json?.error(message);
    await this.renderer?.stop();
    process.stderr.write(`${message}\n`);
    return 2;
  }

  /** An unexpected error: takes the screen down so the error shows on a clean terminal. */
  async abandon(): Promise<void> {
    this.release();
    await this.renderer?.stop();
  }

  /**
   * Ends the session: the report goes to the JSON stream (or the renderer stops), `text` is the
   * summary the user reads, `reportFile` gets the report. Resolves to the exit code.
   */
  async finish(o: { summary: RunSummary; report: RunReport; text: string; reportFile?: string }): Promise<number> {
    this.release();
    if (this.json) this.json.end(o.report);
    else await this.renderer?.stop();
    (o.summary.status === 'done' && this.effective !== 'json' ? process.stdout : process.stderr).write(`${o.text}\n`);
    if (o.reportFile) await writeFile(o.reportFile, `${JSON.stringify(o.report, null, 2)}\n`);
    return exitCodeOf(o.summary.status);
  }

  /** The screen's own cost (`--verbose`), when there was a screen. */
  screenStats(): ReturnType<TuiRenderer['stats']> | undefined {
    return this.screen?.stats();
  }
}

/** 0 done · 1 failed · 130 interrupted (the checkpoint saved). */
export function exitCodeOf(status: RunSummary['status']): number {
  return status === 'done' ? 0 : status === 'interrupted' ? 130 : 1;
}

/** A terminal a screen can be drawn on: a TTY, not a dumb one, and not a CI log that happens to be one. */
export function isTerminal(stream: NodeJS.WriteStream): boolean {
  const set = (name: string) => name in process.env && process.env[name] !== '0' && process.env[name] !== 'false';
  return stream.isTTY === true && process.env.TERM !== 'dumb' && !set('CI') && !set('CONTINUOUS_INTEGRATION');
}
