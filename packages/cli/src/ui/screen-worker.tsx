import { EventEmitter } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { render, renderToString, type Instance } from 'ink';
import type { ProgressView } from '../render/watch.js';
import { ProgressScreen } from './screen.js';

/** The worker's side of the screen: Ink draws here, off the thread the records go through. */
export interface ScreenSetup {
  readonly view: ProgressView;
  readonly columns: number;
  readonly rows?: number;
  /** Whether the frames go to a terminal (else Ink writes them one after another). */
  readonly tty: boolean;
  /** Whether `q` works. */
  readonly keys: boolean;
}

export type ToScreen =
  | { readonly type: 'view'; readonly view: ProgressView }
  | { readonly type: 'resize'; readonly generation: number; readonly columns: number; readonly rows?: number; readonly view: ProgressView }
  | { readonly type: 'end'; readonly view: ProgressView };

export type FromScreen =
  | { readonly type: 'write'; readonly generation: number; readonly data: string }
  | { readonly type: 'drawn'; readonly ms: number }
  | { readonly type: 'ready' }
  | { readonly type: 'final'; readonly text: string | undefined };

const port = parentPort!;
const setup = workerData as ScreenSetup;
const send = (message: FromScreen) => port.postMessage(message);

/** A terminal as Ink sees it: frames go to the main thread, tagged with the size they were drawn for. */
class FrameStream extends EventEmitter {
  columns = setup.columns;
  rows = setup.rows ?? 0;
  readonly isTTY = setup.tty;
  generation = 0;
  write(data: string): boolean {
    send({ type: 'write', generation: this.generation, data });
    return true;
  }
}

/** Ink reads no keys here: the main thread does. */
class NoInput extends EventEmitter {
  readonly isTTY = false;
  setEncoding() {}
  read() {
    return null;
  }
  ref() {}
  unref() {}
  pause() {}
  resume() {}
}

const stream = new FrameStream();
const input = new NoInput();
const element = (view: ProgressView) => <ProgressScreen view={view} columns={stream.columns} {...(stream.rows ? { rows: stream.rows } : {})} keys={setup.keys} />;
const mount = (view: ProgressView): Instance =>
  render(element(view), {
    stdout: stream as unknown as NodeJS.WriteStream,
    stdin: input as unknown as NodeJS.ReadStream,
    stderr: stream as unknown as NodeJS.WriteStream,
    exitOnCtrlC: false,
    patchConsole: false,
    // Views come at most ten times a second: each is drawn at once.
    maxFps: 30,
  });

let instance = mount(setup.view);
send({ type: 'ready' });
port.on('message', (message: ToScreen) => {
  const started = performance.now();
  if (message.type === 'view') {
    instance.rerender(element(message.view));
  } else if (message.type === 'resize') {
    // The main thread cleared the screen and ignores frames of the old size: start a fresh Ink,
    // which draws the whole frame rather than the difference from one no longer there.
    instance.unmount();
    Object.assign(stream, { columns: message.columns, rows: message.rows ?? 0, generation: message.generation });
    instance = mount(message.view);
  } else {
    instance.rerender(element(message.view));
    instance.unmount();
    // On the alternate screen the last frame goes with it: the main thread prints this copy after.
    send({ type: 'final', text: setup.tty ? renderToString(<ProgressScreen view={message.view} columns={stream.columns} keys={false} />, { columns: stream.columns }) : undefined });
    return;
  }
  send({ type: 'drawn', ms: performance.now() - started });
});
