/**
 * POST /destinations refuses a URL on any special-purpose address, including those that embed a
 * private IPv4 address (NAT64, 6to4, IPv4-compatible); AURUM_ALLOW_PRIVATE_DESTINATIONS=true lets
 * them through. The ranges themselves are tested one by one in src/delivery/private-addresses.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './helpers/hub.ts';

const REFUSED = [
  'http://[64:ff9b::7f00:1]/hook',
  'http://[64:ff9b:1::a00:1]/hook',
  'http://[2002:a9fe:a9fe::1]/latest/meta-data',
  'http://[::127.0.0.1]:8080/hook',
  'http://[::ffff:10.0.0.1]/hook',
  'http://[fec0::1]/hook',
  'http://192.0.0.8/hook',
  'http://192.0.2.10/hook',
  'https://198.51.100.20/hook',
  'https://203.0.113.30/hook',
  'http://198.18.0.1/hook',
  'http://240.0.0.1/hook',
  'http://[2001:db8::1]/hook',
];

let strict: TestHub;
let allowing: TestHub;
beforeAll(async () => {
  strict = await startTestHub({ env: { AURUM_ALLOW_PRIVATE_DESTINATIONS: 'false' }, workers: false });
  allowing = await startTestHub({ env: { AURUM_ALLOW_PRIVATE_DESTINATIONS: 'true' }, workers: false });
});
afterAll(async () => {
  await strict?.stop();
  await allowing?.stop();
});

describe('destination addresses', () => {
  it.each(REFUSED)('refuses %s as a destination with destination_private', async (url) => {
    const response = await strict.call('POST', '/destinations', { url });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({
      error: { code: 'destination_private', message: expect.stringContaining('AURUM_ALLOW_PRIVATE_DESTINATIONS') },
    });
  });

  it('names the IPv4 address a NAT64 destination leads to', async () => {
    const response = await strict.call('POST', '/destinations', { url: 'http://[64:ff9b::a9fe:a9fe]/latest' });
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('NAT64 of 169.254.169.254, linkLocal');
  });

  it('refuses such an address in a change of URL too', async () => {
    const created = await strict.json<{ id: string }>('POST', '/destinations', { url: 'https://[2606:4700:4700::1111]/hook' });
    const response = await strict.call('PATCH', `/destinations/${created.id}`, { url: 'http://[2002:7f00:1::1]/hook' });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ error: { code: 'destination_private' } });
  });

  it('accepts a public address, and the refused ones when AURUM_ALLOW_PRIVATE_DESTINATIONS=true', async () => {
    expect((await strict.call('POST', '/destinations', { url: 'https://[64:ff9b::808:808]/hook' })).status).toBe(201);
    for (const url of REFUSED) expect((await allowing.call('POST', '/destinations', { url })).status, url).toBe(201);
  });
});
