import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requireKey } from '../access/auth.ts';
import { accessRoutes } from '../access/routes.ts';
import { complianceRoutes } from '../compliance/routes.ts';
import { importRoutes } from '../connectors/file/import-route.ts';
import { sourceRoutes } from '../connectors/sync/routes.ts';
import { webhookRoutes } from '../connectors/webhook-route.ts';
import { destinationRoutes } from '../delivery/routes.ts';
import { ApiError, errorBody, handleError } from '../http/errors.ts';
import { describeRoute } from '../http/openapi.ts';
import { quarantineRoutes } from '../mapping/quarantine-routes.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { rebuildRoutes } from '../rebuild/routes.ts';
import { identityRoutes } from '../resolution/identity-routes.ts';
import { accountRoutes } from './accounts.ts';
import { docsRoutes } from './docs-page.ts';
import { profileRoutes } from './profiles.ts';
import { qualityRoutes } from './quality.ts';

describeRoute('GET /health', {
  tag: 'Reference',
  audience: 'anyone',
  summary: 'The hub is up, and which database it runs on',
  responses: {
    200: {
      description: 'up',
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['status', 'database'],
        properties: { status: { const: 'ok' }, database: { type: 'string', enum: ['pglite', 'postgres'] } },
      },
    },
  },
});

/**
 * The HTTP API. Who may call what:
 * - `GET /health`, `GET /openapi.json`, `GET /docs`: anyone (they hold no data).
 * - `GET|POST /webhooks/:source`: anyone holding the source's secret (the signature is the authentication).
 * - everything else: an API key (`Authorization: Bearer <token>`) whose role the route's `allow(...)`
 *   admits: reader, ops, compliance or admin (`src/http/roles.ts`).
 */
export function buildApp(ctx: PipelineContext, reloadWorkspace: () => void) {
  const app = new Hono();
  const onError = handleError(ctx.log);
  app.onError((error, c) => {
    // A client that went away (or that the server cut off) is not the hub's fault: no error line
    // per abort, and no answer to write into a closed socket.
    if (clientGone(c)) {
      ctx.log.debug({ method: c.req.method, path: c.req.routePath }, 'client went away before the answer');
      // A copy each time, since hono copies headers already set onto the response it is given;
      // clone() also yields the platform's Response, the kind node-server checks for this marker.
      return RESPONSE_ALREADY_SENT.clone();
    }
    return onError(error, c);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));

  app.get('/health', (c) => c.json({ status: 'ok', database: ctx.database.kind }));
  app.route('/', docsRoutes());
  app.route('/', webhookRoutes(ctx));

  // Every route registered after this line takes a key: a new route is authenticated by default.
  app.use('*', requireKey(ctx.settings.apiKeys, ctx.database.db));
  app.use('*', jsonBodyLimit(ctx.settings.maxBodyBytes));
  app.route('/', profileRoutes(ctx));
  app.route('/', accountRoutes(ctx));
  app.route('/', destinationRoutes(ctx));
  app.route('/', quarantineRoutes(ctx, reloadWorkspace));
  app.route('/', qualityRoutes(ctx));
  app.route('/', identityRoutes(ctx));
  app.route('/', sourceRoutes(ctx));
  app.route('/', importRoutes(ctx));
  app.route('/', accessRoutes(ctx));
  app.route('/', complianceRoutes(ctx));
  app.route('/', rebuildRoutes(ctx));
  return app;
}

/** The request's connection closed, or the server already answered it (a webhook cut off with 408). */
function clientGone(c: Context): boolean {
  const node = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  // The socket, not the request: a request stream is destroyed (and node-server's signal aborted)
  // once its body has been read, while its client still waits for the answer.
  return node?.outgoing?.headersSent === true || node?.outgoing?.writableEnded === true || node?.incoming?.socket?.destroyed === true;
}

/**
 * Every authenticated route but the file import takes at most AURUM_MAX_BODY: a declared length
 * over it is refused unread, and a body without one is counted as it arrives and refused as soon
 * as it passes the limit (a 600 MB body was read whole before). The import streams records to
 * storage as they arrive, so its size has no limit; each record in it has (AURUM_MAX_RECORD_BYTES).
 */
function jsonBodyLimit(maxBytes: number) {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError('body_too_large', `the body is larger than AURUM_MAX_BODY (${maxBytes} bytes)`);
    },
  });
  return (c: Context, next: () => Promise<void>) => (c.req.method === 'POST' && IMPORT_ROUTE.test(c.req.path) ? next() : limit(c, next));
}
const IMPORT_ROUTE = /^\/sources\/[^/]+\/import\/?$/;
