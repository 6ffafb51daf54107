import { Hono } from 'hono';
import { audit } from '../access/audit.ts';
import { type AuthEnv, reasonOf } from '../api/auth.ts';
import { ApiError } from '../api/errors.ts';
import { allow } from '../api/roles.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { exportProfile, loadRecords } from './export.ts';

/**
 * Data-subject requests and record lookups. Who may call: compliance and admin.
 * - `GET /profiles/:id/export`: everything held on the person, as one JSON document.
 * - `GET /records/:source/:recordId`: a source record's raw payload, its fragment and its profile.
 */
export function complianceRoutes(ctx: PipelineContext) {
  const db = ctx.database.db;
  return new Hono<AuthEnv>()
    .get('/profiles/:id/export', allow('compliance'), async (c) => {
      const document = await exportProfile(db, c.req.param('id'), { name: c.get('caller').name, reason: reasonOf(c) });
      if (!document) throw new ApiError('profile_not_found', `there is no profile ${c.req.param('id')}`);
      c.header('content-disposition', `attachment; filename="aurum-export-${document.id}.json"`);
      return c.json(document);
    })
    .get('/records/:source/:recordId', allow('compliance'), async (c) => {
      const { source, recordId } = c.req.param();
      const records = await db.transaction(async (tx) => {
        const found = await loadRecords(tx, source, recordId);
        const actor = c.get('caller').name;
        const reason = reasonOf(c);
        await audit(
          tx,
          ...found.map((r) => ({
            actor,
            action: 'record.read' as const,
            profileId: r.profileId,
            reason,
            details: { source, object: r.object },
          })),
        );
        return found;
      });
      if (records.length === 0) throw new ApiError('record_not_found', `source ${source} has no record ${recordId}`);
      return c.json({ source, recordId, records });
    });
}
