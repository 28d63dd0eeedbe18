import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/**
 * A private npm registry (Verdaccio 6.8) on 127.0.0.1, for the release test. It lives in
 * test/registry, a package of its own installed on first use, so the workspace install stays
 * lean. It knows only what is published to it; everything else comes from the npm registry.
 */
export interface Registry {
  readonly url: string;
  /** A token of a user that may publish (`//host:port/:_authToken=`). */
  readonly token: string;
  /** `.npmrc` lines that send these scopes to this registry, with the token. */
  npmrc(scopes: readonly string[]): string;
  stop(): Promise<void>;
}

/** The environment of npm children: without the lifecycle variables of an outer `npm test`. */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD'));
  // Native modules (better-sqlite3) build against the Node headers npm is set up with, as setup.sh does.
  if (process.env.npm_config_nodedir) env.npm_config_nodedir = process.env.npm_config_nodedir;
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', NO_COLOR: '1', ...extra };
}

/** Times steps by label, for the figures an end-to-end test prints. */
export function stopwatch(): { timings: Record<string, number>; timed: <T>(label: string, fn: () => Promise<T>) => Promise<T> } {
  const timings: Record<string, number> = {};
  const timed = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      timings[label] = Math.round(performance.now() - started);
    }
  };
  return { timings, timed };
}

/** Runs a command; resolves with its output, rejects with it on a non-zero exit or after `timeoutMs`. */
export function sh(command: string, args: string[], cwd: string, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: options.env ?? npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs}ms in ${cwd}\n${out}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code} in ${cwd}\n${out}`));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts Verdaccio with its storage in `dir` (installing it first when needed); stop() ends it. */
export async function startRegistry(dir: string): Promise<Registry> {
  const home = join(ROOT, 'test/registry');
  if (!existsSync(join(home, 'node_modules/verdaccio/package.json'))) {
    await sh('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], home, { timeoutMs: 300_000 });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.yaml'),
    `storage: ./storage
auth:
  htpasswd: { file: ./htpasswd, max_users: 10 }
uplinks: {}
packages:
  '**': { access: $all, publish: $authenticated, unpublish: $authenticated }
log: { type: stdout, format: pretty, level: warn }
web: { enable: false }
`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const child: ChildProcess = spawn(process.execPath, [join(home, 'node_modules/verdaccio/bin/verdaccio'), '--config', join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    env: npmEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  process.once('exit', () => child.kill('SIGKILL'));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited ${child.exitCode}\n${log}`);
    const ready = await fetch(`${url}-/ping`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`verdaccio did not answer on ${url} within 60s\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const created = await fetch(`${url}-/user/org.couchdb.user:release`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'release', password: `pw-${process.pid}-${Date.now()}` }),
  });
  const { token } = (await created.json()) as { token?: string };
  if (!token) throw new Error(`verdaccio did not create a user (${created.status})\n${log}`);
  const host = url.replace(/^http:/, '');
  return {
    url,
    token,
    npmrc: (scopes) => `${scopes.map((s) => `${s}:registry=${url}`).join('\n')}\n${host}:_authToken=${token}\n`,
    stop,
  };
}
