import { describe, expect, it } from 'vitest';
import { RedisEndpoint } from './endpoint.js';

describe('RedisEndpoint.parse, the one Redis URL parser', () => {
  it.each([
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379', { host: '127.0.0.1', port: 6379, db: 0 }],
    ['redis://redis.internal', 'redis://redis.internal:6379', { host: 'redis.internal', port: 6379, db: 0 }],
    ['redis://alice:p%40ss%2Fword@h:7000/3', 'redis://h:7000/3', { host: 'h', port: 7000, db: 3, username: 'alice', password: 'p@ss/word' }],
    ['redis://:only-password@h', 'redis://h:6379', { host: 'h', password: 'only-password' }],
    ['rediss://h.example:6380', 'rediss://h.example:6380', { host: 'h.example', port: 6380, tls: { servername: 'h.example' } }],
    ['redis://[::1]:6379', 'redis://[::1]:6379', { host: '::1', port: 6379 }],
  ])('%s is shown as %s', (url, display, options) => {
    const endpoint = RedisEndpoint.parse(url, { setting: '--queue' });
    expect(endpoint.display).toBe(display);
    expect(endpoint.options).toMatchObject(options);
  });

  it.each([
    ['http://u:secret-pw@h', '--queue: must start with redis:// or rediss:// (got http://…)'],
    ['not a url secret-pw', '--queue: not a valid URL; expected redis://[user:password@]host:6379[/db]'],
    ['redis://h/zero', '--queue: the path must be a database number (redis://host:6379/0)'],
    ['redis://h?password=secret-pw', "--queue: unknown URL parameter 'password' (only ?ca=/path/to/ca.pem, for rediss://)"],
    ['redis://h?ca=/tmp/ca.pem', '--queue: a CA file only applies to TLS; use rediss://'],
    ['rediss://h?ca=/nonexistent/ca.pem', '--queue: cannot read the CA file /nonexistent/ca.pem: ENOENT'],
  ])('%s is refused without repeating the URL', (url, message) => {
    expect(() => RedisEndpoint.parse(url, { setting: '--queue' })).toThrow(message);
  });

  it('scrubs the URL and the password in every form it was written', () => {
    const url = 'redis://alice:p%40ss-word@h:6379';
    const endpoint = RedisEndpoint.parse(url);
    expect(endpoint.scrub(`connect ${url} failed: p@ss-word / p%40ss-word`)).toBe('connect redis://h:6379 failed: *** / ***');
  });
});
