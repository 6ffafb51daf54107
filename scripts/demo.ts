/**
 * `npm run demo`: sends the example records of four silos, signed, to a running hub, then prints the
 * golden records they merged into and what two subscribers received (one of them consent-gated).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sign, verify } from '@octokit/webhooks-methods';

const hub = process.env['AURUM_URL'] ?? `http://localhost:${process.env['PORT'] ?? 8080}`;
const apiKey = (process.env['AURUM_API_KEYS'] ?? '').split(',')[0]?.split(':').slice(1).join(':') ?? '';
const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
const sources = ['marketing', 'support', 'billing', 'erp'];

async function api<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${hub}${route}`, { method, headers: auth, ...(body ? { body: JSON.stringify(body) } : {}) });
  const json = (await response.json()) as T;
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

// Two local subscribers: one takes everything, one only people who granted "marketing".
const received: { name: string; event: string; id: string; verified: boolean }[] = [];
const secrets = new Map<string, string>();
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', async () => {
    const name = req.url?.slice(1) ?? '';
    const verified = await verify(secrets.get(name) ?? '', body, String(req.headers['x-aurum-signature-256'] ?? ''));
    const parsed = JSON.parse(body) as { event: string; profile?: { id: string }; id?: string };
    received.push({ name, event: parsed.event, id: parsed.profile?.id ?? parsed.id ?? '', verified });
    res.writeHead(verified ? 204 : 401).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const port = (receiver.address() as AddressInfo).port;

try {
  await fetch(`${hub}/health`);
} catch {
  console.error(`No hub answers at ${hub}. Start it first with: npm start`);
  process.exit(1);
}
for (const [name, purposes] of [
  ['all-changes', []],
  ['marketing-only', ['marketing']],
] as const) {
  const created = await api<{ id: string; secret: string }>('POST', '/destinations', { url: `http://127.0.0.1:${port}/${name}`, purposes });
  secrets.set(name, created.secret);
  console.log(`subscriber ${name.padEnd(15)} ${purposes.length ? `purposes: ${purposes.join(', ')}` : 'no purposes: every change'}`);
}

for (const source of sources) {
  const body = readFileSync(path.join(import.meta.dirname, '..', 'examples', 'samples', `${source}.json`), 'utf8');
  const secret = process.env[`${source.toUpperCase()}_WEBHOOK_SECRET`] ?? '';
  const response = await fetch(`${hub}/webhooks/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': await sign(secret, body) },
    body,
  });
  console.log(`POST /webhooks/${source.padEnd(10)} → ${response.status} ${await response.text()}`);
}

// Wait until the pipeline settles: every sample record belongs to a profile.
const probes = ['ada.lovelace@example.com', 'grace@navy.example', 'alan@bletchley.example'];
type Profile = { id: string; name?: { full?: string }; emails: string[]; sources: unknown[]; consent: unknown[] };
let profiles: Profile[] = [];
for (let tries = 0; tries < 60; tries++) {
  profiles = (
    await Promise.all(probes.map((email) => api<{ profiles: Profile[] }>('GET', `/profiles?email=${encodeURIComponent(email)}`)))
  ).flatMap((r) => r.profiles);
  if (profiles.length >= 3 && profiles.reduce((n, p) => n + p.sources.length, 0) >= 8 && received.length > 0) break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}
await new Promise((resolve) => setTimeout(resolve, 1500));

const unique = [...new Map(profiles.map((p) => [p.id, p])).values()];
console.log(`\n8 records from 4 silos became ${unique.length} golden records:\n`);
for (const profile of unique) console.log(JSON.stringify(profile, null, 2), '\n');
console.log('Deliveries received (signature checked with @octokit/webhooks-methods verify):');
for (const r of received) console.log(`  ${r.name.padEnd(15)} ${r.event.padEnd(18)} ${r.id} signature ${r.verified ? 'valid' : 'INVALID'}`);
if (received.length === 0)
  console.log('  none: these records were sent before and identical records change nothing (reset with rm -rf .aurum)');
console.log('\nGrace opted out of marketing email, so marketing-only never received her; Alan never said.');
console.log(`Try: curl -H 'Authorization: Bearer ${apiKey}' ${hub}/profiles/${unique[0]?.id}/lineage`);
receiver.close();
