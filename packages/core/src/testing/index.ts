// `@sluice/core/testing`: the plugin test kit (also exported by `@sluice/core`) and the crash tests.
export * from './kit.js';

// Crash tests: `crashTest` for a plugin's own suite; the machinery `sluice crash-test` shares.
export { crashTest, type CrashTestOptions } from './crash-test.js';
export {
  runCrashTest,
  CrashTestError,
  CRASH_POINTS,
  type CrashPoint,
  type CrashLauncher,
  type CrashRunOptions,
  type CrashReport,
  type CrashScenario,
  type SinkFinding,
  type SourceFinding,
  type SinkHolding,
  type ChildExit,
} from './crash-harness.js';
export { readBackSinks, guaranteeOf, type SinkUnderTest, type ReadBackJob } from './crash-read-back.js';
export { formatCrashReport } from './crash-render.js';
export { tally, kept, canonical, type Tally } from './crash-compare.js';
export type { CrashSite } from './crash-journal.js';

export { VirtualClock } from './virtual-clock.js';
