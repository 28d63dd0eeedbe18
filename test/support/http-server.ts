// A local HTTP API for the http plugin's tests: paginated data in four styles, an enrichment
// endpoint, a sink that keeps what it is sent, and faults injected on command. 127.0.0.1 only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A fault the server answers with instead of the normal response. */
export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; contentType?: string }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'reset' }
  | { kind: 'malformed' }
  | { kind: 'html'; status?: number };

/** One request as the server saw it. */
export interface SeenRequest {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The fault it got, if any. */
  fault?: Fault['kind'];
}

export interface TestServerOptions {
  /** Records behind /data/* (ids 0…items-1). */
  items?: number;
  /** Records per page when the client sends no size. */
  pageSize?: number;
  /** Delay before answering every /data request (lets a test kill a run mid-way). */
  pageDelayMs?: number;
}

/** Mulberry32: the same faults for the same seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class TestServer {
  readonly requests: SeenRequest[] = [];
  /** Bodies the /sink endpoints accepted, parsed. */
  readonly received: unknown[] = [];
  items: number;
  pageSize: number;
  pageDelayMs: number;
  /** Bytes of /big bodies written to sockets (a client that stops reading early cuts this short). */
  bigSent = 0;
  /** When set, next-page URLs (cursor `meta.next`, Link) point at this origin instead of this server. */
  nextOrigin: string | undefined;
  private readonly queued: Array<{ prefix: string; fault: Fault; skip: number }> = [];
  private random?: { prefix: string; rate: number; next: () => number; faults: Fault[] };
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  url = '';

  private constructor(options: TestServerOptions) {
    this.items = options.items ?? 100;
    this.pageSize = options.pageSize ?? 10;
    this.pageDelayMs = options.pageDelayMs ?? 0;
  }

  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const server = new TestServer(options);
    await server.listen();
    return server;
  }

  private async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(0, '127.0.0.1', () => resolve());
      }),
      5000,
      'test server listen',
    );
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next requests whose path starts with `prefix` get these faults, one each, in order. */
  inject(prefix: string, ...faults: Fault[]): void {
    for (const fault of faults) this.queued.push({ prefix, fault, skip: 0 });
  }

  /** Like `inject`, but the first `skip` matching requests are served normally first. */
  injectAfter(prefix: string, skip: number, ...faults: Fault[]): void {
    for (const [i, fault] of faults.entries()) this.queued.push({ prefix, fault, skip: i === 0 ? skip : 0 });
  }

  /** From now on, each request under `prefix` fails with probability `rate`, with one of `faults` (seeded). */
  failRandomly(prefix: string, rate: number, seed: number, faults: Fault[]): void {
    this.random = { prefix, rate, next: seeded(seed), faults };
  }

  /** Requests whose path starts with `prefix`. */
  seen(prefix: string): SeenRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  reset(): void {
    this.requests.length = 0;
    this.received.length = 0;
    this.queued.length = 0;
    this.random = undefined;
    this.nextOrigin = undefined;
    this.bigSent = 0;
  }

  /** Closes the server and every connection; gives up waiting after `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await withTimeout(new Promise<void>((resolve) => this.server.close(() => resolve())), timeoutMs, 'test server close');
  }

  private faultFor(path: string): Fault | undefined {
    const index = this.queued.findIndex((q) => path.startsWith(q.prefix));
    if (index >= 0) {
      const entry = this.queued[index]!;
      if (entry.skip > 0) {
        entry.skip--;
        return undefined;
      }
      return this.queued.splice(index, 1)[0]!.fault;
    }
    const random = this.random;
    if (random && path.startsWith(random.prefix) && random.next() < random.rate) {
      return random.faults[Math.floor(random.next() * random.faults.length)]!;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Arrival time, before the body is read: what a rate limit at the server would count.
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', this.url);
    const seen: SeenRequest = {
      at,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.requests.push(seen);
    const fault = this.faultFor(url.pathname);
    if (fault) {
      seen.fault = fault.kind;
      if (await this.answerFault(fault, res)) return;
    }
    if (url.pathname.startsWith('/data/')) {
      if (this.pageDelayMs > 0) await new Promise((r) => setTimeout(r, this.pageDelayMs));
      return this.data(url, res);
    }
    if (url.pathname.startsWith('/enrich/')) return this.enrich(url, seen, res);
    if (url.pathname.startsWith('/sink')) return this.sink(seen, res);
    if (url.pathname === '/big') return this.big(url, res);
    if (url.pathname === '/redirect') return this.send(res, 302, '', 'text/plain', { location: url.searchParams.get('to') ?? '/' });
    if (url.pathname === '/text') return this.send(res, 200, 'plain words', 'text/plain');
    if (url.pathname === '/echo') return this.json(res, 200, { method: seen.method, query: Object.fromEntries(url.searchParams), headers: seen.headers, body: seen.body });
    this.json(res, 404, { error: `no route ${url.pathname}` });
  }

  /** Answers with `fault`; false when the request should then be served normally (slow). */
  private async answerFault(fault: Fault, res: ServerResponse): Promise<boolean> {
    switch (fault.kind) {
      case 'status': {
        const headers: Record<string, string> = { 'content-type': fault.contentType ?? 'application/json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        res.writeHead(fault.status, headers);
        res.end(fault.body ?? JSON.stringify({ error: `injected ${fault.status}` }));
        return true;
      }
      case 'slow':
        await new Promise((r) => setTimeout(r, fault.delayMs));
        return res.destroyed || res.writableEnded || res.socket === null || res.socket.destroyed;
      case 'reset': {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
        res.write('{"id": 1, "partial": "');
        setTimeout(() => res.socket?.destroy(), 5);
        return true;
      }
      case 'malformed':
        this.send(res, 200, '{"id": 1, "name": "trunc', 'application/json');
        return true;
      case 'html':
        this.send(
          res,
          fault.status ?? 200,
          '<!DOCTYPE html>\n<html><head><title>Service Temporarily Unavailable</title></head><body><h1>Oops</h1><p>Try later.</p></body></html>',
          'text/html; charset=utf-8',
        );
        return true;
    }
  }

  private send(res: ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }

  private json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    this.send(res, status, JSON.stringify(value), 'application/json', headers);
  }

  private slice(from: number, size: number): Array<{ id: number; name: string }> {
    const out = [];
    for (let id = from; id < Math.min(this.items, from + size); id++) out.push({ id, name: `item-${id}` });
    return out;
  }

  /**
   * /data/page?page=N&per_page=M (1-based), /data/offset?offset=N&limit=M,
   * /data/cursor?cursor=TOKEN&limit=M (next at meta.next), /data/link?page=N&per_page=M (Link header);
 * with `nextOrigin` set, the next cursor and Link are absolute URLs on that origin.
   * Every body: { data: { items: [...] }, meta: { total } }.
   */
  private data(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const style = url.pathname.slice('/data/'.length);
    const size = Number(q.get('per_page') ?? q.get('limit') ?? this.pageSize);
    const meta: Record<string, unknown> = { total: this.items };
    let from: number;
    const headers: Record<string, string> = {};
    if (style === 'page' || style === 'link') {
      const page = Number(q.get('page') ?? 1);
      from = (page - 1) * size;
      if (style === 'link' && from + size < this.items) {
        headers.link = `<${this.nextOrigin ?? ''}${url.pathname}?page=${page + 1}&per_page=${size}>; rel="next", <${url.pathname}?page=1&per_page=${size}>; rel="first"`;
      }
    } else if (style === 'offset') {
      from = Number(q.get('offset') ?? 0);
    } else if (style === 'cursor') {
      const cursor = q.get('cursor');
      from = cursor ? Number(Buffer.from(cursor, 'base64url').toString('utf8').replace('at:', '')) : 0;
      const token = Buffer.from(`at:${from + size}`).toString('base64url');
      meta.next = from + size >= this.items ? null : this.nextOrigin ? `${this.nextOrigin}${url.pathname}?cursor=${token}&limit=${size}` : token;
    } else {
      return this.json(res, 404, { error: 'unknown style' });
    }
    this.json(res, 200, { data: { items: this.slice(from, size) }, meta }, headers);
  }

  /**
   * /big?mb=N: a JSON body of N MiB, `{ "data": { "items": [...] } }`, streamed in 64 KiB chunks as
   * the client reads them; with `declare=1` it states its Content-Length first. Pages after the
   * first (`page=2`…) are empty.
   */
  private async big(url: URL, res: ServerResponse): Promise<void> {
    if (Number(url.searchParams.get('page') ?? 1) > 1) return this.json(res, 200, { data: { items: [] } });
    const total = Math.floor(Number(url.searchParams.get('mb') ?? 1) * 1024 * 1024);
    const head = '{"data":{"items":[';
    const tail = ']}}';
    const item = `{"id":0,"pad":"${'x'.repeat(100)}"}`;
    const count = Math.max(1, Math.floor((total - head.length - tail.length) / (item.length + 1)));
    const size = head.length + tail.length + count * item.length + (count - 1);
    res.writeHead(200, { 'content-type': 'application/json', ...(url.searchParams.get('declare') ? { 'content-length': String(size) } : {}) });
    const perChunk = Math.floor((64 * 1024) / (item.length + 1));
    let chunk = head;
    for (let i = 0; i < count; i++) {
      chunk += i === 0 ? item : `,${item}`;
      if ((i + 1) % perChunk === 0 || i === count - 1) {
        if (i === count - 1) chunk += tail;
        if (res.destroyed || res.socket === null || res.socket.destroyed) return;
        this.bigSent += chunk.length;
        if (!res.write(chunk)) {
          const ok = await new Promise<boolean>((resolve) => {
            res.once('drain', () => resolve(true));
            res.once('close', () => resolve(false));
          });
          if (!ok) return;
        }
        chunk = '';
      }
    }
    res.end();
  }

  /** /enrich/ID → { id, score, tag }; answers 404 for ids ending in /missing. */
  private enrich(url: URL, seen: SeenRequest, res: ServerResponse): void {
    const id = url.pathname.slice('/enrich/'.length);
    if (id === 'missing') return this.json(res, 404, { error: 'no such record', id });
    const n = Number(id);
    this.json(res, 200, { id: n, score: n * 2, tag: `t${n % 7}`, auth: seen.headers.authorization ? 'yes' : 'no' });
  }

  /** /sink: keeps a JSON or NDJSON body; a record with `invalid: true` is refused with 422. */
  private sink(seen: SeenRequest, res: ServerResponse): void {
    const type = String(seen.headers['content-type'] ?? '');
    let values: unknown[];
    try {
      values = type.includes('ndjson')
        ? seen.body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l))
        : [JSON.parse(seen.body)].flat();
    } catch {
      return this.json(res, 400, { error: 'bad body' });
    }
    if (values.some((v) => (v as { invalid?: boolean }).invalid)) return this.json(res, 422, { error: 'invalid record: email is required' });
    this.received.push(...values);
    this.json(res, 201, { ok: true, count: values.length });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The most requests in any window of `windowMs` (sliding), over request times in ms. */
export function maxInWindow(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
