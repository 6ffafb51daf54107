import { sql } from 'drizzle-orm';
import { type Queryable, type Raw, rowsOf } from '../db/database.ts';
import type { lineageHistory } from '../db/schema.ts';
import type { ListLineage, Provenance, ScalarLineage } from './build.ts';

type Outcome = 'won' | 'lost' | 'included' | 'removed';

export interface ValueHistory extends Provenance {
  value: unknown;
  /** Each change of the value's standing, oldest first: won or lost survivorship, included in or removed from a list. */
  events: { version: number; at: string; outcome: Outcome }[];
}

interface Version {
  version: number;
  at: string;
  lineage: Record<string, ScalarLineage | ListLineage[]>;
}

const provenanceOf = (p: Provenance): Provenance => ({
  source: p.source,
  object: p.object,
  recordId: p.recordId,
  observedAt: p.observedAt,
  updatedAt: p.updatedAt,
  mapping: p.mapping,
  mappingHash: p.mappingHash,
});
/** One value as one record offered it under one mapping version. */
const keyOf = (value: unknown, p: Provenance) => JSON.stringify([value, p.source, p.object, p.recordId, p.mappingHash]);

/**
 * Every value each field has had, replayed from the golden record's versions: which source and
 * record offered it under which mapping version, and at which version it won or lost survivorship
 * (scalars) or joined or left the list (lists).
 */
export function replayLineage(versions: readonly Version[]): Record<string, ValueHistory[]> {
  const fields = new Map<string, Map<string, ValueHistory & { standing: Outcome }>>();
  for (const v of versions) {
    for (const field of new Set([...Object.keys(v.lineage), ...fields.keys()])) {
      const entry = v.lineage[field];
      const now = new Map<string, { value: unknown; provenance: Provenance; standing: Outcome }>();
      if (Array.isArray(entry)) {
        for (const item of entry) {
          for (const p of item.sources) now.set(keyOf(item.value, p), { value: item.value, provenance: p, standing: 'included' });
        }
      } else if (entry) {
        now.set(keyOf(entry.value, entry), { value: entry.value, provenance: entry, standing: 'won' });
        for (const c of entry.candidates) {
          const key = keyOf(c.value, c);
          if (!now.has(key)) now.set(key, { value: c.value, provenance: c, standing: 'lost' });
        }
      }
      const known = fields.get(field) ?? new Map();
      fields.set(field, known);
      for (const [key, { value, provenance, standing }] of now) {
        const record = known.get(key) ?? { value, ...provenanceOf(provenance), events: [], standing: 'removed' as Outcome };
        if (record.standing !== standing) record.events.push({ version: v.version, at: v.at, outcome: standing });
        record.standing = standing;
        known.set(key, record);
      }
      for (const [key, record] of known) {
        if (!now.has(key) && record.standing !== 'removed') {
          record.events.push({ version: v.version, at: v.at, outcome: 'removed' });
          record.standing = 'removed';
        }
      }
    }
  }
  return Object.fromEntries(
    [...fields].map(([field, values]) => [field, [...values.values()].map(({ standing: _standing, ...history }) => history)]),
  );
}

export async function loadLineageHistory(db: Queryable, profileId: string): Promise<Record<string, ValueHistory[]>> {
  const versions = rowsOf<
    Pick<typeof lineageHistory.$inferSelect, 'version'> &
      Raw<Pick<typeof lineageHistory.$inferSelect, 'at'>> & { lineage: Version['lineage'] }
  >(await db.execute(sql`select version, at, lineage from lineage_history where profile_id = ${profileId} order by version, id`)).map(
    (r) => ({ version: r.version, at: new Date(r.at).toISOString(), lineage: r.lineage }),
  );
  return replayLineage(versions);
}
