import { Hono } from 'hono';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { currentConsent } from '../consent/status.ts';
import { findProfilesByKeys, loadConsentLedger, loadLineage, loadProfiles, resolveProfileId } from '../golden/read.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import type { AuthEnv } from './auth.ts';
import { ApiError } from './errors.ts';

/** Profile reads. Who may call: any API key (readers and up). */
export function profileRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  const active = async (id: string) => {
    const resolved = await resolveProfileId(db, id);
    if (!resolved) throw new ApiError('profile_not_found', `there is no profile ${id}`);
    return resolved;
  };

  return new Hono<AuthEnv>()
    .get('/profiles', async (c) => {
      const { email, phone, externalId } = c.req.query();
      const keys: string[] = [];
      if (email) keys.push(`email:${email.trim().toLowerCase()}`);
      if (phone) {
        const parsed = parsePhoneNumberFromString(phone, ctx.settings.defaultRegion as CountryCode | undefined);
        if (!parsed?.isValid()) throw new ApiError('invalid_request', 'phone is not a valid phone number');
        keys.push(`phone:${parsed.number}`);
      }
      if (externalId) {
        const colon = externalId.indexOf(':');
        if (colon < 1 || colon === externalId.length - 1) throw new ApiError('invalid_request', 'externalId must be system:id');
        keys.push(`ext:${externalId.slice(0, colon)}:${externalId.slice(colon + 1)}`);
      }
      if (keys.length === 0) throw new ApiError('invalid_request', 'query by email, phone or externalId=system:id');
      return c.json({ profiles: await findProfilesByKeys(db, keys) });
    })
    .get('/profiles/:id', async (c) => {
      const [profile] = await loadProfiles(db, [await active(c.req.param('id'))]);
      if (!profile) throw new ApiError('profile_not_found', `there is no profile ${c.req.param('id')}`);
      const { hash: _hash, ...body } = profile;
      return c.json(body);
    })
    .get('/profiles/:id/lineage', async (c) => {
      const id = await active(c.req.param('id'));
      return c.json({ id, fields: await loadLineage(db, id) });
    })
    .get('/profiles/:id/consent', async (c) => {
      const id = await active(c.req.param('id'));
      const ledger = await loadConsentLedger(db, id);
      const current = currentConsent(ledger.map((e) => ({ ...e, at: new Date(e.at) })));
      return c.json({ id, purposes: current, ledger });
    });
}
