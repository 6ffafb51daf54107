import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';

/** A sender silent this long is cut off: the guard against slow clients holding sockets. */
export const IDLE_TIMEOUT_MS = 120_000;

/**
 * The hub's HTTP server. Node's default `requestTimeout` (300 s) would cut a streamed file import
 * off half-way: a gigabyte takes longer than that to arrive and store. So the request as a whole
 * has no time limit; what is limited is silence (`IDLE_TIMEOUT_MS`) and the headers (Node's 60 s).
 */
export function serveHub(app: Pick<Hono, 'fetch'>, port: number, onListening?: (port: number) => void): Server {
  const server = serve({ fetch: app.fetch, port, serverOptions: { requestTimeout: 0 } }, (info) => onListening?.(info.port)) as Server;
  server.setTimeout(IDLE_TIMEOUT_MS);
  return server;
}
