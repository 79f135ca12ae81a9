/**
 * A minimal HTTP/1.1 client over node:http with a keep-alive agent, used by the benchmarks so that
 * client overhead is small and identical for every server. Request bodies are written as a list of
 * chunks (no concatenation of instance bytes); response bodies are collected into one Buffer.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** One completed exchange. */
export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Milliseconds from sending the request to the last response byte. */
  ms: number;
}

/** A keep-alive agent allowing `sockets` parallel connections. Destroy it after the pass. */
export function keepAliveAgent(sockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}

/** Sends one request; rejects on network errors and after `timeoutMs` without completion. */
export function send(agent: Agent, url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer[]; timeoutMs?: number } = {}): Promise<HttpResult> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost') {
    return Promise.reject(new Error(`benchmarks only talk to the loopback interface, not ${target.hostname}`));
  }
  const headers: Record<string, string> = { ...options.headers };
  if (options.body) headers['content-length'] = String(options.body.reduce((n, c) => n + c.length, 0));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ agent, method: options.method ?? 'GET', hostname: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), ms: performance.now() - started }));
    });
    req.setTimeout(options.timeoutMs ?? 300_000, () => req.destroy(new Error(`timeout after ${options.timeoutMs ?? 300_000} ms: ${options.method ?? 'GET'} ${url}`)));
    req.on('error', reject);
    for (const chunk of options.body ?? []) req.write(chunk);
    req.end();
  });
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight, in index order. */
export async function runPool<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}
