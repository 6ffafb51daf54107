import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Http2Bindings, type HttpBindings, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { errorBody } from '../http/errors.ts';

/** A sender silent this long is cut off: the guard against slow clients holding sockets. */
export const IDLE_TIMEOUT_MS = 120_000;
/**
 * Connections let in past AURUM_MAX_CONNECTIONS, for `/health` alone: when slow clients hold every
 * slot, the orchestrator's probe must still get an answer, or it restarts a hub that is working.
 */
export const HEALTH_RESERVE = 16;
/** How long a connection let in past the cap has to ask for /health before it is closed. */
const RESERVE_GRACE_MS = 2_000;

export interface ServeOptions {
  /** The interface to bind (AURUM_HOST); default loopback only. */
  host?: string;
  /** A webhook request must have fully arrived this long after its headers (AURUM_WEBHOOK_TIMEOUT_MS). */
  webhookTimeoutMs?: number;
  /** Connections held open at once (AURUM_MAX_CONNECTIONS), plus HEALTH_RESERVE for /health. */
  maxConnections?: number;
}

/** We serve HTTP/1.1 only, so the bindings are always these. */
type NodeEnv = { incoming: IncomingMessage; outgoing: ServerResponse };

/**
 * The hub's HTTP server. Node's default `requestTimeout` (300 s) would cut a streamed file import
 * off half-way: a gigabyte takes longer than that to arrive and store. So the server as a whole
 * has no total time limit; what is limited is silence (`IDLE_TIMEOUT_MS`), the headers
 * (`webhookTimeoutMs`, at most Node's 60 s), and, for `/webhooks/*` only, the time the request
 * takes to arrive: a webhook is a small body a vendor sends at once, so one that trickles in is a
 * slow client holding a socket (issue 11: 19,980 of them, a byte every 100 s, exhausted the file
 * descriptors). The count of connections is capped too, with a few kept for `/health`.
 */
export function serveHub(app: Pick<Hono, 'fetch'>, port: number, onListening?: (port: number) => void, options: ServeOptions = {}): Server {
  const host = options.host ?? '127.0.0.1';
  const webhookTimeoutMs = options.webhookTimeoutMs ?? 30_000;
  const maxConnections = options.maxConnections ?? 4096;
  const headersTimeout = Math.min(60_000, webhookTimeoutMs);

  const overCap = new WeakSet<Socket>();
  const fetch = (request: Request, bindings: HttpBindings | Http2Bindings) => {
    const env = bindings as NodeEnv;
    const pathname = (env.incoming.url ?? '/').split('?')[0] ?? '/';
    if (overCap.has(env.incoming.socket) && pathname !== '/health') {
      return Response.json(errorBody('too_many_connections', 'the hub holds as many connections as AURUM_MAX_CONNECTIONS allows'), {
        status: 503,
        headers: { connection: 'close', 'retry-after': '1' },
      });
    }
    if (pathname.startsWith('/webhooks/')) limitArrival(env, webhookTimeoutMs);
    return app.fetch(request, env);
  };

  const server = serve(
    {
      fetch,
      port,
      hostname: host,
      // Node checks the headers deadline on this interval, so it is as coarse as the interval.
      serverOptions: { requestTimeout: 0, headersTimeout, connectionsCheckingInterval: Math.min(30_000, headersTimeout / 2) },
    },
    (info) => onListening?.(info.port),
  ) as Server;
  server.setTimeout(IDLE_TIMEOUT_MS);
  // Past this Node closes a new connection at once, before it costs more than its accept.
  server.maxConnections = maxConnections + HEALTH_RESERVE;
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
    if (open <= maxConnections) return;
    overCap.add(socket);
    const timer = setTimeout(() => socket.destroy(), RESERVE_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
  return server;
}

/**
 * Cuts a webhook request off with 408 unless its body has fully arrived `ms` after its headers.
 * A body that has arrived is never cut: what remains is the hub's own work (storing it), and
 * answering 408 then could tell the vendor to resend a record that is kept.
 */
function limitArrival({ incoming, outgoing }: NodeEnv, ms: number): void {
  const timer = setTimeout(() => {
    if (incoming.complete) return;
    // Destroying the request (not only its socket) ends the route's read of the body with an
    // error: closing the socket alone would leave that read waiting for ever.
    const cutOff = () => incoming.destroy(Object.assign(new Error('request timeout'), { code: 'ERR_REQUEST_TIMEOUT' }));
    if (outgoing.headersSent) {
      cutOff();
      return;
    }
    const body = JSON.stringify(errorBody('request_timeout', `the request did not arrive within AURUM_WEBHOOK_TIMEOUT_MS (${ms} ms)`));
    outgoing.writeHead(408, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    outgoing.end(body, cutOff);
    // A client that does not read its answer does not keep the socket either.
    setTimeout(cutOff, 1_000).unref();
  }, ms);
  timer.unref();
  outgoing.once('close', () => clearTimeout(timer));
}
