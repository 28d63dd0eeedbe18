// Checks that every package of the workspace can be published as users need it: the fields npm
// shows and resolves, a README and a LICENSE, built entry points, and plugins that name their
// @sluice/core as a peer. Exit 1 with one line per problem.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dirs = ['packages/core', 'packages/cli', ...['email', 'file', 'http', 'redis', 'sql', 'transforms'].map((p) => `packages/plugins/${p}`)];
const problems = [];
for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  const say = (message) => problems.push(`${dir}/package.json: ${message}`);
  for (const field of ['name', 'version', 'description', 'license', 'repository', 'engines', 'files', 'exports']) if (pkg[field] === undefined) say(`missing "${field}"`);
  if (pkg.private) say('is private');
  if (pkg.publishConfig?.access !== 'public') say('publishConfig.access must be "public" (a scoped package is private by default)');
  for (const file of ['README.md', 'LICENSE']) if (!existsSync(join(root, dir, file))) say(`no ${file} beside it`);
  const entries = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})].filter(Boolean);
  for (const entry of entries) if (!existsSync(join(root, dir, entry))) say(`${entry} does not exist: build first (npx tsc -b)`);
  if (pkg.keywords?.includes('sluice-plugin')) {
    if (!pkg.peerDependencies?.['@sluice/core']) say('a plugin needs peerDependencies["@sluice/core"]');
    if (pkg.dependencies?.['@sluice/core']) say('a plugin must not depend on @sluice/core (a second copy of core): make it a peer');
  }
}
for (const p of problems) process.stderr.write(`${p}\n`);
if (problems.length) process.exit(1);
process.stdout.write(`${dirs.length} packages ready to publish\n`);
