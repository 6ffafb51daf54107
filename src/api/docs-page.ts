import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { describeRoute, openApiDocument } from '../http/openapi.ts';

/**
 * `GET /docs`: the API reference as one server-rendered page, built from the OpenAPI document.
 * No script and nothing fetched from elsewhere, so it works offline and its Content-Security-Policy
 * can forbid everything but its one inline stylesheet (allowed by hash). Each operation is a
 * `<details>` element: the page is browsable without JavaScript.
 */

type Doc = { info: { title: string; version: string; description?: string }; paths: Record<string, Record<string, Operation>> };
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: unknown }[];
  requestBody?: { required?: boolean; description?: string; content: Record<string, { schema?: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
  'x-aurum-roles'?: string[];
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h2{border-bottom:1px solid #ccc;margin-top:2.5rem}details{border:1px solid #ddd;border-radius:4px;margin:.5rem 0;padding:.3rem .7rem}
summary{cursor:pointer}code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:24rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}.roles{color:#555;font-size:13px}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}`;

/** The policy the page is served with: nothing runs, nothing loads, only its own style applies. */
export const DOCS_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const html = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
const json = (value: unknown) => `<pre>${html(JSON.stringify(value, null, 2))}</pre>`;

function operationHtml(method: string, path: string, op: Operation): string {
  const roles = op['x-aurum-roles'];
  const parts = [
    `<summary><span class="m">${html(method.toUpperCase())}</span> <code>${html(path)}</code> — ${html(op.summary ?? '')}</summary>`,
    `<p class="roles">${roles ? `Roles: ${roles.map(escape).join(', ')}` : 'No API key'}</p>`,
  ];
  if (op.description) parts.push(`<p>${html(op.description)}</p>`);
  if (op.parameters?.length) {
    const rows = op.parameters.map(
      (p) =>
        `<tr><td><code>${html(p.name)}</code></td><td>${html(p.in)}${p.required ? ', required' : ''}</td>` +
        `<td><code>${html(JSON.stringify(p.schema ?? {}))}</code></td><td>${html(p.description ?? '')}</td></tr>`,
    );
    parts.push(`<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>${rows.join('')}</table>`);
  }
  if (op.requestBody) {
    for (const [type, media] of Object.entries(op.requestBody.content)) {
      parts.push(`<h4>Body (${html(type)}${op.requestBody.required ? '' : ', optional'})</h4>${json(media.schema ?? {})}`);
    }
  }
  for (const [status, response] of Object.entries(op.responses)) {
    const schema = response.content?.['application/json']?.schema;
    parts.push(`<h4>${html(status)}: ${html(response.description)}</h4>${schema && !('$ref' in (schema as object)) ? json(schema) : ''}`);
  }
  return `<details id="${html(`${method}-${path}`)}">${parts.join('\n')}</details>`;
}

/** The page for a document; error answers refer to the shared `Error` schema, shown once. */
export function docsPage(doc: Doc, errorSchema: unknown): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'Other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationHtml(method, path, op)]);
    }
  }
  const sections = [...byTag].map(([tag, ops]) => `<h2 id="${html(tag)}">${html(tag)}</h2>\n${ops.join('\n')}`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(doc.info.title)} ${html(doc.info.version)}</title><style>${STYLE}</style></head>
<body><h1>${html(doc.info.title)} <small>${html(doc.info.version)}</small></h1>
<p>${html(doc.info.description ?? '')} The machine-readable document is <a href="/openapi.json">/openapi.json</a>.</p>
<nav>${[...byTag.keys()].map((t) => `<a href="#${html(t)}">${html(t)}</a>`).join(' · ')}</nav>
${sections.join('\n')}
<h2 id="errors">Errors</h2><p>Every error status answers this body:</p>${json(errorSchema)}
</body></html>`;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describeRoute('GET /openapi.json', {
  tag: 'Reference',
  audience: 'anyone',
  summary: 'This OpenAPI 3.1 document',
  responses: { 200: { description: 'the document', schema: { type: 'object', required: ['openapi', 'info', 'paths'] } } },
});
describeRoute('GET /docs', {
  tag: 'Reference',
  audience: 'anyone',
  summary: 'The API reference as a page, built from /openapi.json',
  responses: { 200: { description: 'the page', schema: { type: 'string' }, contentType: 'text/html' } },
});

/**
 * `GET /openapi.json` and `GET /docs`. Who may call: anyone, with no key: they describe the routes
 * and hold no data, and a client needs them before it has a key. Built on first call, once every
 * route module has declared its routes.
 */
export function docsRoutes() {
  let built: { doc: ReturnType<typeof openApiDocument>; page: string } | undefined;
  const build = () => {
    if (!built) {
      const doc = openApiDocument(VERSION);
      built = { doc, page: docsPage(doc as unknown as Doc, doc.components.schemas.Error) };
    }
    return built;
  };
  return new Hono()
    .get('/openapi.json', (c) => c.json(build().doc))
    .get('/docs', (c) => {
      c.header('content-security-policy', DOCS_CSP);
      c.header('x-content-type-options', 'nosniff');
      return c.html(build().page);
    });
}
