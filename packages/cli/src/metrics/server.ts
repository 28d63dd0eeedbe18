import { createServer, type Server } from 'node:http';
import type { ListenAddress } from './address.js';
import type { SluiceMetrics } from './registry.js';

/**
 * The `/metrics` endpoint for the life of the process. The server does not keep the process
 * alive (unref): a run exits when it ends, a worker when it stops.
 */
export async function serveMetrics(metrics: SluiceMetrics, at: ListenAddress): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('sluice serves /metrics\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : at.port;
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  return { server, url: `http://${host}:${port}/metrics` };
}
