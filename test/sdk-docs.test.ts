import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scaffoldFiles } from '../packages/cli/src/scaffold/templates.js';
import { ROOT, tempDir } from './support/cli.js';

/** The fenced blocks of a markdown section, by language. */
export function codeBlocks(markdown: string, heading: string, lang: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section ${heading}`);
  const next = markdown.slice(start + heading.length + 2).search(/\n## /);
  const section = markdown.slice(start, next < 0 ? undefined : start + heading.length + 2 + next);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out\n${out}`));
    }, 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('docs/plugins.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/plugins.md'), 'utf8');

  it('its plugin and its tests compile and pass, as written', async () => {
    const [plugin] = codeBlocks(doc, '## A plugin', 'ts');
    const [tests] = codeBlocks(doc, '## Testing a plugin', 'ts');
    expect(plugin).toContain("defineTransform");
    expect(tests).toContain("runTransform");
    const dir = tempDir('sluice-docs-');
    mkdirSync(join(dir, 'src'));
    const files = scaffoldFiles({ packageName: 'sluice-plugin-score', pluginName: 'score', kind: 'transform', coreRange: '^0.1.0', coreSpec: '^0.1.0' });
    writeFileSync(join(dir, 'package.json'), files['package.json']!);
    writeFileSync(join(dir, 'tsconfig.json'), files['tsconfig.json']!);
    writeFileSync(join(dir, 'src/index.ts'), plugin!);
    writeFileSync(join(dir, 'src/index.test.ts'), tests!);
    mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
    mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(ROOT, 'packages/core'), join(dir, 'node_modules/@sluice/core'));
    symlinkSync(join(ROOT, 'node_modules/typescript'), join(dir, 'node_modules/typescript'));
    symlinkSync(join(ROOT, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'));
    const build = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir);
    expect(build.out).toBe('');
    const test = await run(process.execPath, ['--test'], dir);
    expect(test.out).toMatch(/# pass 3\n# fail 0/);
  });

  it('quotes the resolution messages the tests assert', () => {
    // test/sdk-resolve.test.ts asserts these texts; the doc shows them with a job's place.
    expect(doc).toContain("plugin package 'sluice-plugin-geoip@2.0.0' needs @sluice/core ^2.0.0, but this sluice runs @sluice/core 0.1.0");
    expect(doc).toContain("plugin package 'sluice-plugin-geoip' is not installed: run npm install sluice-plugin-geoip");
    expect(doc).toContain("two transform plugins are named 'score': one from sluice-plugin-a, one from sluice-plugin-b");
  });
});
