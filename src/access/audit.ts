import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/database.ts';
import { auditLog } from '../db/schema.ts';
import { textArray } from '../db/sql.ts';
import { capPage } from '../http/page-bytes.ts';

/** Every action the audit log records. */
export const AUDIT_ACTIONS = [
  /** A caller read a profile's personal data: the profile, its matches, history, lineage or consent. */
  'profile.read',
  /** A caller read an account: its golden record, members, matches, history or lineage. */
  'account.read',
  'account.merged',
  'account.split',
  'profile.merged',
  'profile.split',
  'profile.exported',
  'profile.erased',
  'consent.changed',
  'record.read',
  /** Ops read quarantined raw payloads (`GET /quarantine`): `details.rawIds` says which. */
  'quarantine.read',
  'key.created',
  'key.revoked',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  actor: string;
  action: AuditAction;
  profileId?: string | null;
  reason?: string | null;
  details?: Record<string, unknown>;
}

/** Records acts in `tx`, the transaction of the acts themselves: one statement however many. */
export async function audit(tx: Tx | Db, ...entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.execute(sql`
    insert into audit_log (actor, action, profile_id, reason, details)
    select actor, action, profile_id::uuid, reason, details::jsonb
    from unnest(${textArray(entries.map((e) => e.actor))}, ${textArray(entries.map((e) => e.action))},
      ${sql.param(entries.map((e) => e.profileId ?? null))}::text[], ${sql.param(entries.map((e) => e.reason ?? null))}::text[],
      ${textArray(entries.map((e) => JSON.stringify(e.details ?? {})))})
      as t(actor, action, profile_id, reason, details)`);
}

export interface AuditQuery {
  profile?: string;
  actor?: string;
  action?: string;
  from?: Date;
  to?: Date;
  /** Entries older than this id: the previous page's `next`. */
  before?: number;
  limit: number;
}

export interface AuditView {
  id: number;
  at: string;
  actor: string;
  action: string;
  profileId: string | null;
  reason: string | null;
  details: unknown;
}

/**
 * Newest first, a page at a time; `next` continues where the page stopped. A page also stops at
 * MAX_PAGE_BYTES (`truncated`): entries are small, but a thousand reads of full quarantine pages
 * each list a thousand raw ids.
 */
export async function queryAudit(db: Db | Tx, q: AuditQuery): Promise<{ entries: AuditView[]; next: number | null; truncated: boolean }> {
  const rows = await db
    .select()
    .from(auditLog)
    .where(
      and(
        q.profile ? eq(auditLog.profileId, q.profile) : undefined,
        q.actor ? eq(auditLog.actor, q.actor) : undefined,
        q.action ? eq(auditLog.action, q.action) : undefined,
        q.from ? gte(auditLog.at, q.from) : undefined,
        q.to ? lt(auditLog.at, q.to) : undefined,
        q.before ? lt(auditLog.id, q.before) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1);
  const { items: entries, truncated } = capPage(
    rows.slice(0, q.limit).map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      actor: r.actor,
      action: r.action,
      profileId: r.profileId,
      reason: r.reason,
      details: r.details,
    })),
  );
  const more = rows.length > q.limit || truncated;
  return { entries, next: more ? (entries.at(-1)?.id ?? null) : null, truncated };
}
