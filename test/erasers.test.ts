/**
 * Every table that holds a data subject (a profile, a source record, a raw record, or personal
 * values) is covered by a registered eraser, or is on the allowlist below with the reason it holds none.
 * Read from `db/schema.ts` through drizzle's table metadata, so a new table is checked the day it is added.
 */
import { getTableName, is } from 'drizzle-orm';
import { bigint, getTableConfig, PgTable, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import type { Eraser } from '../src/compliance/eraser.ts';
import { ERASERS, erasedTables } from '../src/compliance/erasers.ts';
import * as schema from '../src/db/schema.ts';

/**
 * Tables with a subject column that an erasure leaves as they are, each for a reason. A table
 * with no subject column at all (identity_models, rebuilds, intake_outbox, webhook_receipts…)
 * needs no entry: the check passes it by itself.
 */
const HOLDS_NO_PERSONAL_DATA: Record<string, string> = {
  // Names profiles by id only (never personal data), append-only by trigger: it must outlive an erasure.
  audit_log: 'who did what to which profile id; no personal data',
  // The erasure's own record: the profile id it erased and counts.
  erasures: 'the erasure itself: a profile id, an actor and counts',
  // Ids of raw records that arrived again and were dropped, with the kind of identifier that matched.
  suppressions: 'raw record ids and an identifier kind, no values',
  // The first and last raw record ids an import wrote: a range, no values.
  imports: 'a range of raw record ids',
};

const SUBJECT_TABLES = new Set(['profiles', 'source_records', 'raw_records']);
/** Column names that hold a subject or personal values. */
const SUBJECT_WORDS = new Set([
  'profile',
  'survivor',
  'retired',
  'payload',
  'body',
  'email',
  'phone',
  'golden',
  'lineage',
  'fragment',
  'message',
]);
const REFERENCE = /(^|_)(record|raw)_(id|pk|ids)$/;

/** Why a table holds a subject (its subject columns and foreign keys), or nothing when it holds none. */
function subjectColumns(table: PgTable): string[] {
  const config = getTableConfig(table);
  const named = config.columns
    .map((c) => c.name)
    .filter((name) => REFERENCE.test(name) || name.split('_').some((word) => SUBJECT_WORDS.has(word)));
  const referencing = config.foreignKeys
    .map((fk) => fk.reference())
    .filter((ref) => SUBJECT_TABLES.has(getTableName(ref.foreignTable)))
    .map((ref) => `${ref.columns.map((c) => c.name).join(',')} -> ${getTableName(ref.foreignTable)}`);
  return [...new Set([...named, ...referencing])];
}

const schemaTables: PgTable[] = Object.values(schema as Record<string, unknown>).filter((value): value is PgTable => is(value, PgTable));

/** Tables holding a subject that no eraser covers and the allowlist does not name, with their subject columns. */
function uncovered(tables: readonly PgTable[], erasers: readonly Eraser[]): Record<string, string[]> {
  const covered = new Set(erasedTables(erasers));
  return Object.fromEntries(
    tables
      .map((table) => [getTableName(table), subjectColumns(table)] as const)
      .filter(([name, columns]) => columns.length > 0 && !covered.has(name) && !(name in HOLDS_NO_PERSONAL_DATA)),
  );
}

describe('erasers', () => {
  it('cover every table holding a subject, except the allowlisted ones', () => {
    expect(schemaTables.length).toBeGreaterThan(20);
    expect(uncovered(schemaTables, ERASERS)).toEqual({});
  });

  it('flag a new table holding a profile id, a record or personal values that no eraser covers', () => {
    const notes = pgTable('notes', { id: uuid('id').primaryKey(), profileId: uuid('profile_id'), text: text('text') });
    const recordLinks = pgTable('record_links', {
      id: uuid('id').primaryKey(),
      target: bigint('target', { mode: 'number' }).references(() => schema.sourceRecords.id),
    });
    const contacts = pgTable('contacts', { id: uuid('id').primaryKey(), workEmail: text('work_email') });
    const counts = pgTable('counts', { id: uuid('id').primaryKey(), records: bigint('records', { mode: 'number' }) });
    expect(uncovered([notes, recordLinks, contacts, counts], ERASERS)).toEqual({
      notes: ['profile_id'],
      record_links: ['target -> source_records'],
      contacts: ['work_email'],
    });
  });

  it('flag a table whose eraser was left out of the registry', () => {
    const withoutDelivery = ERASERS.filter((e) => e.name !== 'delivery');
    expect(Object.keys(uncovered(schemaTables, withoutDelivery)).sort()).toEqual(['deliveries', 'destination_states']);
  });

  it('allowlist only tables that would otherwise be flagged', () => {
    const flagged = new Set<string>(schemaTables.filter((t) => subjectColumns(t).length > 0).map((t) => getTableName(t)));
    expect(Object.keys(HOLDS_NO_PERSONAL_DATA).filter((t) => !flagged.has(t))).toEqual([]);
  });

  it('name only tables that exist, each in one eraser, none also allowlisted', () => {
    const names = new Set<string>(schemaTables.map((t) => getTableName(t)));
    const registered = ERASERS.flatMap((e) => e.tables);
    expect(registered.filter((t) => !names.has(t))).toEqual(['pgboss.job']);
    expect(registered.length).toBe(new Set(registered).size);
    expect(Object.keys(HOLDS_NO_PERSONAL_DATA).filter((t) => !names.has(t) || registered.includes(t))).toEqual([]);
    expect(new Set(ERASERS.map((e) => e.name)).size).toBe(ERASERS.length);
  });

  it('vacuum every erased table after the erasure, in the erasers order', () => {
    expect(erasedTables()).toEqual([
      'raw_records',
      'quarantine',
      'source_records',
      'record_keys',
      'consent_entries',
      'memberships',
      'link_pins',
      'profile_merges',
      'profiles',
      'golden_records',
      'lineage_history',
      'deliveries',
      'destination_states',
      'pgboss.job',
    ]);
  });
});
