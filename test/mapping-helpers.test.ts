/**
 * The mapping helpers through the real pipeline: a webhook source whose mapping splits full names,
 * reads day-first and two-digit-year dates, and reads each record's phones in its own country.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, startTestHub, type TestHub } from './helpers/hub.ts';
import { writeWorkspace } from './helpers/workspace.ts';

const connector = 'type: webhook\nsecret: ${CRM_SECRET}\n';
const mapping = `source: crm
object: contact
recordId: id
updatedAt: $parseDate(changed, ["d/m/Y"])
region: country
profile: |
  (
    $name := $splitName(full_name);
    {
      "name": {"given": $name.given, "family": $name.family},
      "emails": [$email(email)],
      "phones": [$phone(phone), mobile],
      "dateOfBirth": $parseDate(dob),
      "attributes": {"nameSuffix": $name.suffix},
      "externalIds": {"crm": id}
    }
  )
`;

let t: TestHub;
beforeAll(async () => {
  t = await startTestHub({ configDir: writeWorkspace({ 'connectors/crm.yaml': connector, 'mappings/crm-contact.yaml': mapping }) });
});
afterAll(() => t.stop());

const crm = (r: Record<string, unknown>) => t.postWebhook('crm', JSON.stringify(r));
const byExternalId = async (id: string) => (await t.json<{ profiles: any[] }>('GET', `/profiles?externalId=crm:${id}`)).profiles;

describe('a mapping using the helpers', () => {
  beforeAll(async () => {
    for (const record of [
      {
        id: 'c1',
        full_name: 'Dr. John A. Smith III',
        email: ' John.Smith@Example.COM ',
        phone: '(415) 555-2671',
        mobile: '650 253 0000',
        country: 'us',
        dob: '7/4/76',
        changed: '02/01/2026',
      },
      { id: 'c2', full_name: 'van der Berg, Jan', email: 'jan@example.nl', phone: '020 7946 0018', country: '', dob: '31.12.1980' },
      { id: 'c3', full_name: 'Grace Hopper', email: 'a..b@x.org', dob: '2023-02-30', country: 'US', phone: '(212) 736-5000' },
    ]) {
      expect((await crm(record)).status).toBe(202);
    }
    await t.settle();
  });

  it('makes a golden profile of split names, parsed dates and phones read in the record’s country', async () => {
    const [profile, ...others] = (await t.json<{ profiles: any[] }>('GET', '/profiles?email=john.smith@example.com')).profiles;
    expect(others).toHaveLength(0);
    expect(profile).toMatchObject({
      name: { given: 'John A.', family: 'Smith', full: 'John A. Smith' },
      emails: ['john.smith@example.com'],
      phones: expect.arrayContaining(['+14155552671', '+16502530000']),
      dateOfBirth: '1976-07-04',
      attributes: { nameSuffix: 'iii' },
    });
    const record = await t.json('GET', '/records/crm/c1');
    expect(record.records[0]).toMatchObject({ sourceUpdatedAt: '2026-01-02T00:00:00.000Z' });
  });

  it('reads the phones of a record without a country in AURUM_DEFAULT_REGION, and keeps particles in the family name', async () => {
    const [profile] = await byExternalId('c2');
    expect(profile).toMatchObject({
      name: { given: 'Jan', family: 'van der Berg' },
      phones: ['+442079460018'],
      dateOfBirth: '1980-12-31',
    });
  });

  it('leaves out an invalid email and an impossible date, keeping the rest of the record', async () => {
    const [profile] = await byExternalId('c3');
    expect(profile).toMatchObject({ name: { given: 'Grace', family: 'Hopper' }, phones: ['+12127365000'] });
    expect(profile.emails ?? []).toEqual([]);
    expect(profile.dateOfBirth).toBeUndefined();
  });
});

describe('npm run aurum -- validate', () => {
  it('names a region: that is not an expression and a $parseDate format that does not exist, with their lines', async () => {
    const dir = writeWorkspace({
      'connectors/crm.yaml': connector,
      'mappings/region.yaml': 'source: crm\nobject: a\nrecordId: id\nregion: 44\nprofile: "{}"\n',
      'mappings/dates.yaml': 'source: crm\nobject: b\nrecordId: id\nprofile: |\n  {"dateOfBirth": $parseDate(dob, "Y-m-d")}\n',
    });
    const cli = path.join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
    const failure = await promisify(execFile)(process.execPath, [cli, 'validate', '--config', dir], {
      env: { ...process.env, CRM_SECRET: SECRETS.CRM_SECRET },
    }).catch((e) => e);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('mappings/region.yaml:4 region: must be string');
    expect(failure.stderr).toContain('mappings/dates.yaml:4 profile: $parseDate: unknown format "Y-m-d"');
  });
});
