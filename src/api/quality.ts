import { Hono } from 'hono';
import type { AuthEnv } from '../access/auth.ts';
import { arr, describeRoute, int, obj, str, strEnum } from '../http/openapi.ts';
import { allow } from '../http/roles.ts';
import { VIOLATION_KINDS } from '../mapping/violations.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { countViolations } from '../resolution/read.ts';

describeRoute('GET /quality/violations', {
  tag: 'Quarantine',
  audience: 'ops',
  summary: 'The values mappings dropped as invalid or blocked, counted per source, field and kind',
  description:
    'Counts the violations of the records held now (a record mapped again counts with its latest version; one deleted at its source not at all). ' +
    'No values: read a record’s own with `GET /records/:source/:recordId`.',
  query: {
    source: { type: 'string', description: 'only this source' },
    field: { type: 'string', description: 'only this field, as a violation names it (`phones`, `accounts.ref.domain`)' },
  },
  responses: {
    200: {
      description: 'counts, by source, field and kind',
      schema: obj({
        violations: arr(obj({ source: str, field: str, kind: strEnum(...Object.keys(VIOLATION_KINDS)), violations: int, records: int })),
      }),
    },
  },
});

/**
 * Data quality, for ops (and admin): how many values each source's records had dropped, and why.
 * - `GET /quality/violations?source=&field=`: counts per source, field and kind, no values.
 */
export function qualityRoutes(ctx: PipelineContext) {
  return new Hono<AuthEnv>().get('/quality/violations', allow('ops'), async (c) => {
    const { source, field } = c.req.query();
    const violations = await countViolations(ctx.database.db, {
      ...(source ? { source } : {}),
      ...(field ? { field } : {}),
    });
    return c.json({ violations });
  });
}
