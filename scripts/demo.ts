/**
 * `npm run demo`: sends the example records of four silos, signed, to a running hub, then prints the
 * golden records they merged into, the ERP's company as an account with its members, and what two
 * subscribers received (one of them consent-gated).
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
// The demo's subscribers live as long as this script: it deletes them when it ends, however it
// ends, or the hub would retry a closed port for a day (two more destinations each run).
const created: string[] = [];
const cleanUp = async () => {
  for (const id of created.splice(0)) await api('DELETE', `/destinations/${id}`).catch(() => {});
  receiver.close();
};
process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
try {
  await runDemo();
} finally {
  await cleanUp();
}

async function runDemo(): Promise<void> {
  for (const [name, purposes] of [
    ['all-changes', []],
    ['marketing-only', ['marketing']],
  ] as const) {
    const destination = await api<{ id: string; secret: string }>('POST', '/destinations', {
      url: `http://127.0.0.1:${port}/${name}`,
      purposes,
    });
    created.push(destination.id);
    secrets.set(name, destination.secret);
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
    if (profiles.length >= 3 && profiles.reduce((n, p) => n + p.sources.length, 0) >= 8) break;
    await sleep(500);
  }
  await deliveriesSettled();

  // The ERP's company is an account of its own; Ada is its member, named by the ERP and by marketing.
  type Account = { id: string; name?: string; members: { profileId: string; role: string | null; source: string }[] };
  let account: Account | undefined;
  for (let tries = 0; tries < 60; tries++) {
    const [found] = (await api<{ accounts: { id: string }[] }>('GET', '/accounts?domain=analytical.example')).accounts;
    account = found && (await api<Account>('GET', `/accounts/${found.id}`));
    if (account && account.members.length >= 2) break;
    await sleep(500);
  }

  const unique = [...new Map(profiles.map((p) => [p.id, p])).values()];
  console.log(`\n9 records from 4 silos became ${unique.length} golden records and ${account ? 1 : 0} account:\n`);
  for (const profile of unique) console.log(JSON.stringify(profile, null, 2), '\n');
  if (account) console.log(JSON.stringify(account, null, 2), '\n');
  console.log('Deliveries received (signature checked with @octokit/webhooks-methods verify):');
  for (const r of received)
    console.log(`  ${r.name.padEnd(15)} ${r.event.padEnd(18)} ${r.id} signature ${r.verified ? 'valid' : 'INVALID'}`);
  if (received.length === 0)
    console.log('  none: these records were sent before and identical records change nothing (reset with rm -rf .aurum)');
  console.log('\nGrace opted out of marketing email, so marketing-only never received her; Alan never said.');
  console.log(`Try: curl -H 'Authorization: Bearer ${apiKey}' ${hub}/profiles/${unique[0]?.id}/lineage`);
}

/**
 * Until every delivery to the demo's subscribers is done (none pending, sending or retrying, every
 * delivered one received here) and stays so a moment: the golden records' changes fan out after
 * the records are linked, so deliveries keep appearing for a while after the profiles do. With no
 * delivery at all (records sent before change nothing), the moment is longer.
 */
async function deliveriesSettled(): Promise<void> {
  const open = new Set(['pending', 'sending', 'retrying']);
  let quietSince: number | undefined;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const lists = await Promise.all(
      created.map((id) => api<{ deliveries: { status: string }[] }>('GET', `/destinations/${id}/deliveries?limit=1000`)),
    );
    const deliveries = lists.flatMap((l) => l.deliveries);
    const delivered = deliveries.filter((d) => d.status === 'delivered').length;
    const settled = !deliveries.some((d) => open.has(d.status)) && received.length >= delivered;
    if (!settled) quietSince = undefined;
    else if (quietSince === undefined) quietSince = Date.now();
    else if (Date.now() - quietSince >= (deliveries.length > 0 ? 2_000 : 5_000)) return;
    await sleep(250);
  }
  console.log('(some deliveries were still under way after 60 s: the list below may be short)');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
