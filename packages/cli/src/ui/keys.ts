/** What a key typed on the screen asks for: `q` stops gracefully; Ctrl-C (raw mode, so no SIGINT) interrupts. */
export function keyAction(data: string): 'stop' | 'interrupt' | undefined {
  if (data.includes('\u0003')) return 'interrupt';
  if (data === 'q' || data === 'Q') return 'stop';
  return undefined;
}

/**
 * Reads keys from a terminal in raw mode while the screen is up, and gives the terminal back as
 * it was. In raw mode the terminal sends Ctrl-C as a character instead of SIGINT.
 */
export class KeyReader {
  private readonly onData = (data: Buffer | string) => {
    const action = keyAction(String(data));
    if (action === 'stop') this.handlers.onStop();
    else if (action === 'interrupt') this.handlers.onInterrupt();
  };
  private reading = false;

  constructor(
    private readonly stdin: NodeJS.ReadStream | undefined,
    private readonly handlers: { onStop: () => void; onInterrupt: () => void },
  ) {}

  /** Whether keys can be read at all (stdin is a terminal). */
  get available(): boolean {
    return this.stdin?.isTTY === true && typeof this.stdin.setRawMode === 'function';
  }

  start(): void {
    if (!this.available || this.reading) return;
    this.reading = true;
    this.stdin!.setRawMode(true);
    this.stdin!.on('data', this.onData);
    this.stdin!.resume();
  }

  stop(): void {
    if (!this.reading) return;
    this.reading = false;
    this.stdin!.off('data', this.onData);
    this.stdin!.setRawMode(false);
    this.stdin!.pause();
  }
}
