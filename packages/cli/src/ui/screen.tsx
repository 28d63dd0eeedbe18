import { Box } from 'ink';
import type { ProgressView } from '../render/watch.js';
import { CheckpointLines, ErrorLines, KeyHints } from './footer.js';
import { Header, headerHeight } from './header.js';
import { StepTable } from './step-table.js';

export interface ScreenProps {
  readonly view: ProgressView;
  /** Terminal width; every line fits in it. */
  readonly columns: number;
  /** Terminal height, when known: the errors and then steps give way so the screen never scrolls. */
  readonly rows?: number;
  /** Whether `q` works (stdin is a terminal). */
  readonly keys?: boolean;
}

/** The whole progress screen, drawn from one view of the run. */
export function ProgressScreen({ view, columns, rows, keys = true }: ScreenProps) {
  const width = Math.max(1, columns);
  // Besides the header, steps and errors: two blank lines, the table header, the checkpoint's two lines and the keys.
  const errorLines = 1 + view.errors.length + view.notices.length;
  const room = rows === undefined ? Infinity : rows - 1 - headerHeight(view, width) - 6;
  const showErrors = room - Math.min(view.steps.length, 3) >= errorLines;
  const stepRoom = rows === undefined ? undefined : Math.max(1, room - (showErrors ? errorLines : 0));
  return (
    <Box flexDirection="column" width={width}>
      <Header view={view} columns={width} />
      <Box marginTop={1}>
        <StepTable steps={view.steps} readRate={view.rate} columns={width} {...(stepRoom !== undefined ? { maxRows: stepRoom } : {})} />
      </Box>
      <Box marginTop={1} flexDirection="column">
        <CheckpointLines view={view} columns={width} />
        {showErrors ? <ErrorLines view={view} columns={width} /> : null}
        <KeyHints view={view} keys={keys} columns={width} />
      </Box>
    </Box>
  );
}
