import type { Tx } from '../db/database.ts';
import { type ProfileChange, refreshGolden } from '../golden/refresh.ts';
import type { Entity } from '../mapping/mapping-file.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { enqueue } from '../queue/catalog.ts';
import { type Actor, mergeProfiles, splitRecords } from '../resolution/decide.ts';
import { accountsOfPersons } from '../resolution/memberships.ts';

/**
 * A merge or split someone decided, carried through: identity resolution changes the profiles
 * (`resolution/decide.ts`), their golden records and their accounts' are rebuilt, and the changes
 * are queued for delivery, all in one transaction.
 */

async function publish(ctx: PipelineContext, tx: Tx, changes: ProfileChange[]) {
  if (changes.length > 0) await enqueue(ctx.boss, tx, 'fanout', { changes });
}

const priorityOf = (ctx: PipelineContext) => (source: string) => ctx.workspace().sources.get(source)?.priority ?? 0;

/** `POST /profiles/merge` (and `/accounts/merge`): see `mergeProfiles`. */
export async function forceMerge(ctx: PipelineContext, ids: string[], actor: Actor, entity: Entity = 'person') {
  return ctx.database.db.transaction(async (tx) => {
    const { survivorId, retiredIds } = await mergeProfiles(tx, entity, ids, actor);
    // A person's accounts now list the survivor in place of the ids it absorbed.
    const accounts = await accountsOfPersons(tx, [survivorId]);
    const changes = await refreshGolden(tx, [survivorId, ...accounts], priorityOf(ctx), [{ survivorId, retiredIds }]);
    await publish(ctx, tx, changes);
    return { id: survivorId, merged: retiredIds };
  });
}

/** `POST /profiles/:id/split` (and `/accounts/:id/split`): see `splitRecords`. */
export async function splitProfile(
  ctx: PipelineContext,
  profileId: string,
  records: { source: string; recordId: string; object?: string | undefined }[],
  actor: Actor,
  entity: Entity = 'person',
) {
  return ctx.database.db.transaction(async (tx) => {
    const { id, newId, moved } = await splitRecords(tx, entity, profileId, records, actor);
    const accounts = await accountsOfPersons(tx, [id, newId]);
    const refreshed = await refreshGolden(tx, [id, newId, ...accounts], priorityOf(ctx));
    const splits: ProfileChange[] =
      entity === 'account'
        ? [
            { profileId: id, event: 'account.split', splitInto: [newId] },
            { profileId: newId, event: 'account.split', splitFrom: id },
          ]
        : [
            { profileId: id, event: 'profile.split', splitInto: [newId] },
            { profileId: newId, event: 'profile.split', splitFrom: id },
          ];
    // The members each side of an account has now.
    const memberships = refreshed.filter((c) => c.event === 'account.member_added' || c.event === 'account.member_removed');
    await publish(ctx, tx, [...splits, ...memberships]);
    return { id, newId, moved };
  });
}
