import { availableParallelism } from 'node:os';
import { format } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { Renderer } from '../render/plain.js';
import type { ProgressView, RunWatch } from '../render/watch.js';
import { KeyReader } from './keys.js';
import type { FromScreen, ScreenSetup, ToScreen } from './screen-worker.js';

export interface TuiOptions {
  /** Where the screen is drawn (the run command uses stderr, so stdout stays for the summary). */
  readonly stdout: NodeJS.WriteStream;
  readonly stdin?: NodeJS.ReadStream;
  /** Shortest repaint interval: 100 ms, so at most 10 repaints a second. */
  readonly intervalMs?: number;
  /** The share of one core drawing may take; repaints space out when frames are slow (default 10% with four cores or more, else 2%). */
  readonly budget?: number;
  /** `q`: stop gracefully (drain, checkpoint, exit 130). */
  readonly onStop: () => void;
  /** Ctrl-C typed while the terminal is in raw mode: handled like SIGINT. */
  readonly onInterrupt: () => void;
}

export interface TuiRenderer extends Renderer {
  /** Draws the last frame, leaves the screen as it was, and ends the drawing thread. */
  stop(): Promise<void>;
  /** Gives the terminal back at once (a second Ctrl-C): no last frame. */
  abort(): void;
  /** Repaints so far, the main thread's time on them (taking snapshots), and the drawing thread's. */
  stats(): { repaints: number; mainMs: number; drawingMs: number };
}

const ALTERNATE_SCREEN = '\u001B[?1049h';
const CLEAR_SCREEN = '\u001B[2J\u001B[H';
/**
 * Back to the main screen, the alternate one cleared first: a terminal resized while the
 * alternate screen was up (tmux does) can otherwise carry its top lines over above what is
 * printed next — the last frame's first lines, twice.
 */
const MAIN_SCREEN = `${CLEAR_SCREEN}\u001B[?1049l`;

/**
 * `--progress tui`: the Ink screen, drawn in a worker thread. The main thread, which the records
 * go through, only takes a snapshot of the run ten times a second and posts it; Ink lays out and
 * draws a frame (a few milliseconds of work) on the other thread, and sends the bytes back.
 * A snapshot is not sent while the previous one is still being drawn.
 *
 * On a terminal the screen lives in the alternate screen buffer, like a pager's: a resize clears
 * it and draws afresh (terminals re-wrap what is on the main screen, which would leave pieces of
 * old frames behind), and the scrollback keeps no frames. When the run ends, the last frame is
 * printed on the main screen, above the summary.
 */
export async function tuiRenderer(watch: RunWatch, options: TuiOptions): Promise<TuiRenderer> {
  const { stdout } = options;
  const intervalMs = Math.max(100, options.intervalMs ?? 100);
  const fullScreen = stdout.isTTY === true;
  const keys = new KeyReader(options.stdin, { onStop: options.onStop, onInterrupt: options.onInterrupt });
  const size = () => ({ columns: stdout.columns || 80, ...(stdout.rows ? { rows: stdout.rows } : {}) });

  let repaints = 0;
  let mainMs = 0;
  let drawingMs = 0;
  let frameMs = 0;
  const snapshot = (): ProgressView => {
    const started = performance.now();
    const view = watch.view();
    mainMs += performance.now() - started;
    return view;
  };

  const setup: ScreenSetup = { view: snapshot(), ...size(), tty: fullScreen, keys: keys.available };
  // The worker's environment is its own: React's production build (several times cheaper a frame),
  // and no CI variables, which make Ink print only the last frame; the screen was asked for.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'production' };
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  const worker = new Worker(new URL('./screen-worker.js', import.meta.url), { workerData: setup, env });
  worker.unref();

  // Frames drawn for an earlier size are dropped: the screen was cleared for the new one.
  let generation = 0;
  let busy = true;
  let finished: ((text: string | undefined) => void) | undefined;
  let ready: (() => void) | undefined;
  worker.on('message', (message: FromScreen) => {
    if (message.type === 'ready') {
      busy = false;
      ready?.();
    } else if (message.type === 'write') {
      if (message.generation === generation) stdout.write(message.data);
    } else if (message.type === 'drawn') {
      busy = false;
      repaints++;
      drawingMs += message.ms;
      // Smoothed, so one slow frame (a pause for garbage collection) counts for little; the first
      // frames run cold code and do not count.
      if (repaints > 2) frameMs = frameMs === 0 ? message.ms : (frameMs * 3 + Math.min(message.ms, frameMs * 3)) / 4;
    } else finished?.(message.text);
  });
  worker.on('error', (error) => {
    process.stderr.write(`sluice: the progress screen failed (${error.message}); the run goes on\n`);
    ready?.();
    finished?.(undefined);
  });

  const post = (message: ToScreen) => {
    busy = true;
    worker.postMessage(message);
  };
  // At most ten repaints a second; fewer when frames are slow to draw, so that drawing takes at
  // most `budget` of a core. With four cores or more the drawing thread has one to itself, and
  // can take a tenth of it; with fewer, it takes its share from the records: 2%.
  const budget = options.budget ?? (availableParallelism() >= 4 ? 0.1 : 0.02);
  let lastPost = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (!busy && now - lastPost >= Math.min(1000, frameMs / budget) - intervalMs / 2) {
      lastPost = now;
      post({ type: 'view', view: snapshot() });
    }
  }, intervalMs);
  timer.unref();
  const onResize = () => {
    generation++;
    if (fullScreen) stdout.write(CLEAR_SCREEN);
    post({ type: 'resize', generation, ...size(), view: snapshot() });
  };
  stdout.on('resize', onResize);
  if (fullScreen) stdout.write(ALTERNATE_SCREEN + CLEAR_SCREEN);
  // Should the process end without stopping the screen (a crash), the terminal gets its main
  // screen back; node itself takes it out of raw mode.
  const onExit = () => {
    if (fullScreen) stdout.write(MAIN_SCREEN);
  };
  process.once('exit', onExit);
  keys.start();
  // The run starts once the screen is up: loading Ink and compiling its layout engine takes a few
  // hundred milliseconds of a core, better spent before the records flow than while they do.
  await new Promise<void>((resolve) => {
    const timeout = setTimeout(resolve, 5000);
    ready = () => {
      clearTimeout(timeout);
      resolve();
    };
  });
  const held = new HeldConsole();

  let stopped = false;
  const release = () => {
    stopped = true;
    process.off('exit', onExit);
    clearInterval(timer);
    stdout.off('resize', onResize);
    keys.stop();
    watch.close();
    held.release();
  };
  return {
    stats: () => ({ repaints, mainMs, drawingMs }),
    async stop() {
      if (stopped) return;
      release();
      const text = await new Promise<string | undefined>((resolve) => {
        const timeout = setTimeout(() => resolve(undefined), 3000);
        finished = (t) => {
          clearTimeout(timeout);
          resolve(t);
        };
        worker.postMessage({ type: 'end', view: watch.view() } satisfies ToScreen);
      });
      if (fullScreen) stdout.write(`${MAIN_SCREEN}${text === undefined ? '' : `${text}\n`}`);
      held.flush(stdout);
      await worker.terminate();
    },
    abort() {
      if (stopped) return;
      release();
      generation = -1;
      if (fullScreen) stdout.write(MAIN_SCREEN);
      held.flush(stdout);
      void worker.terminate();
    },
  };
}

/**
 * While the screen is up, what plugins print with `console` is held back (it would land in the
 * middle of a frame) and printed below the last frame when the screen closes.
 */
class HeldConsole {
  private readonly lines: string[] = [];
  private dropped = 0;
  private readonly saved: Partial<Record<'log' | 'info' | 'warn' | 'error' | 'debug', (...args: unknown[]) => void>> = {};

  constructor() {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      this.saved[method] = console[method];
      console[method] = (...args: unknown[]) => {
        if (this.lines.length < 1000) this.lines.push(format(...args));
        else this.dropped++;
      };
    }
  }

  release(): void {
    for (const [method, original] of Object.entries(this.saved)) (console as unknown as Record<string, unknown>)[method] = original;
  }

  flush(out: NodeJS.WritableStream): void {
    if (this.lines.length) out.write(`${this.lines.join('\n')}\n`);
    if (this.dropped) out.write(`(${this.dropped} more console lines not shown)\n`);
    this.lines.length = 0;
    this.dropped = 0;
  }
}
