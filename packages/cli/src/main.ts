import { UsageError } from './args.js';
import { CLI_VERSION } from './version.js';

/** The commands, each loaded only when it runs. */
const commands: Record<string, { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }> = {
  run: { summary: 'run a job; resumes from its checkpoint', load: () => import('./commands/run.js') },
  validate: { summary: 'check job files without running anything', load: () => import('./commands/validate.js') },
  schema: { summary: 'print the JSON Schema of job files, for editors', load: () => import('./commands/schema.js') },
  plugins: { summary: 'list plugins, their kinds and options', load: () => import('./commands/plugins.js') },
  status: { summary: "show a job's checkpoint", load: () => import('./commands/status.js') },
  reset: { summary: "delete a job's checkpoint", load: () => import('./commands/reset.js') },
  replay: { summary: 'send dead-lettered records back through the job', load: () => import('./commands/replay.js') },
  'crash-test': { summary: 'prove the job resumes: kill it at every fault point, resume, compare', load: () => import('./commands/crash-test.js') },
  test: { summary: 'run job tests (*.test.yaml) with the source and sinks replaced', load: () => import('./commands/test.js') },
  worker: { summary: 'take partitions of distributed runs (run --workers) from a Redis queue', load: () => import('./commands/worker.js') },
  init: { summary: 'set up a project for jobs: package.json scripts, an example job and its test, CI', load: () => import('./commands/init.js') },
  new: { summary: 'scaffold a job from a template or a plugin package: sluice new job|plugin NAME', load: () => import('./commands/new.js') },
};

export const USAGE = `usage: sluice <command> [options]

commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`)
  .join('\n')}

run 'sluice <command> --help' for a command's options`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`sluice ${CLI_VERSION}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`sluice: unknown command '${name}'\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sluice ${name}: ${error.message}\n${error.usage ? `\n${error.usage}\n` : ''}`);
      return 2;
    }
    throw error;
  }
}
