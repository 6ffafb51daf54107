/**
 * Secret rotation on a generic `webhook` source: while `previousSecrets` lists the old secret, a
 * sender still signing with it is accepted beside one already on the new secret; a body signed with
 * neither is refused and stores nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/yaml-file.ts';
import { loadWorkspace } from '../src/workspace/workspace.ts';
import { startTestHub, type TestHub } from './helpers/hub.ts';
import { writeWorkspace } from './helpers/workspace.ts';

const CRM_NEW_SECRET = 'crm-new-secret-0123456789';
const CRM_OLD_SECRET = 'crm-old-secret-0123456789';
const CRM_OLDER_SECRET = 'crm-older-secret-01234567';

const files = {
  'connectors/crm.yaml': 'type: webhook\nsecret: ${CRM_NEW_SECRET}\npreviousSecrets: ["${CRM_OLD_SECRET}", "${CRM_OLDER_SECRET}"]\n',
  'mappings/crm-contact.yaml': 'source: crm\nobject: contact\nrecordId: id\nprofile: |\n  { "emails": [email] }\n',
};

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ configDir: writeWorkspace(files), workers: false, env: { CRM_NEW_SECRET, CRM_OLD_SECRET, CRM_OLDER_SECRET } });
});
afterAll(() => t?.stop());

let records = 0;
const record = () => JSON.stringify({ id: `c-${++records}`, email: `person${records}@example.com` });
const stored = () => t.count('raw_records');

describe('POST /webhooks/:source on a webhook source with previousSecrets', () => {
  it('accepts a body signed with the current secret', async () => {
    const before = await stored();
    expect((await t.postWebhook('crm', record(), CRM_NEW_SECRET)).status).toBe(202);
    expect(await stored()).toBe(before + 1);
  });

  it('accepts a body signed with a previous secret, each of them', async () => {
    const before = await stored();
    expect((await t.postWebhook('crm', record(), CRM_OLD_SECRET)).status).toBe(202);
    expect((await t.postWebhook('crm', record(), CRM_OLDER_SECRET)).status).toBe(202);
    expect(await stored()).toBe(before + 2);
  });

  it('refuses a body signed with neither with 401 signature_invalid, and stores nothing', async () => {
    const before = await stored();
    const response = await t.postWebhook('crm', record(), 'crm-someone-else-0123456');
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('signature_invalid');
    expect(await stored()).toBe(before);
  });
});

describe('a webhook source with previousSecrets in its YAML', () => {
  it('stops at start-up naming a previous secret whose variable is unset', () => {
    const dir = writeWorkspace(files);
    const problems = (() => {
      try {
        loadWorkspace(dir, { CRM_NEW_SECRET, CRM_OLD_SECRET });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    })();
    expect(problems).toEqual([expect.objectContaining({ message: expect.stringContaining('CRM_OLDER_SECRET is not set') })]);
  });

  it('refuses a previous secret shorter than 16 characters', () => {
    const dir = writeWorkspace({ ...files, 'connectors/crm.yaml': 'type: webhook\nsecret: ${CRM_NEW_SECRET}\npreviousSecrets: [short]\n' });
    expect(() => loadWorkspace(dir, { CRM_NEW_SECRET })).toThrow(/previousSecrets/);
  });
});
