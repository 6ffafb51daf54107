import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from '@octokit/webhooks-methods';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  signatureValid: boolean;
}

/**
 * A real HTTP server standing in for a downstream tool. It checks every signature with
 * `verify` from @octokit/webhooks-methods, against the secret of the path's destination.
 */
export type Answer = number | { status: number; delayMs: number };

export async function startReceiver(answer: (path: string, attempt: number) => Answer = () => 204) {
  const received: Received[] = [];
  const secrets = new Map<string, string>();
  const attempts = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const signature = String(req.headers['x-aurum-signature-256'] ?? '');
      const signatureValid = signature !== '' && (await verify(secrets.get(path) ?? '', body, signature));
      const delivery = String(req.headers['x-aurum-delivery']);
      const attempt = (attempts.get(delivery) ?? 0) + 1;
      attempts.set(delivery, attempt);
      const given = answer(path, attempt);
      const { status, delayMs } = typeof given === 'number' ? { status: given, delayMs: 0 } : given;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      // A reply after the sender gave up is not a delivery.
      if (status >= 200 && status < 300 && !res.destroyed && !req.socket.destroyed) {
        received.push({ path, headers: req.headers, body, json: JSON.parse(body), signatureValid });
      }
      if (!res.destroyed) res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    received,
    url: (path: string) => `${base}${path}`,
    /** Registers the secret the hub gave the destination at `path`. */
    trust: (path: string, secret: string) => secrets.set(path, secret),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
