import { sql } from 'drizzle-orm';
import { ledgerJsonOf, lockLedgerShared } from '../consent/ledger.ts';
import { type ConsentEntry, currentConsent, qualifies } from '../consent/status.ts';
import { type RawRow, rowsOf, type Tx } from '../db/database.ts';
import type { deliveries, destinations } from '../db/schema.ts';
import { uuidArray } from '../db/sql.ts';
import type { PipelineContext } from '../pipeline-context.ts';
import { liveRecordPksOf, standingOf } from '../resolution/read.ts';

/** Notices that carry no personal data: they go whatever the consent, so a destination learns to delete. */
const isNotice = (event: string) => event === 'profile.suppressed' || event === 'profile.erased';

/**
 * Whether a delivery carries a person's golden record, and so goes only under consent. Notices do
 * not, nor do account events: consent is given per person and purpose, and an account (a company)
 * has none to give. A member event names a person only by id, with the role a source states.
 */
export const needsConsent = (event: string) => event.startsWith('profile.') && !isNotice(event);

/**
 * The longest a gate keeps writers of consent waiting for the bodies it let through to be handed to
 * their sockets. Bodies are small and the sockets connected, so this is a backstop for a receiver that
 * stopped reading: past it the lock goes, and the rest of that body (decided before) trickles out.
 */
const HOLD_MS = 250;

export interface Verdict {
  status: string;
  /** False: a person's record that is erased, merged into an erased profile, or not granted every purpose of the destination by the ledger. */
  allowed: boolean;
}

/**
 * Whether each delivery may go now, decided by the consent ledger (the entries of the records the
 * profile holds), not by the golden record: the golden record catches up with a withdrawal only
 * when its refresh job runs, a second or more later under load. A profile merged away is judged by
 * its survivor's ledger, where its records now are.
 */
export async function verdicts(ctx: PipelineContext, tx: Tx, deliveryIds: readonly string[]): Promise<Map<string, Verdict>> {
  // One statement, composed of golden's, resolution's and consent's subqueries: it runs per claim and inside the gate's lock.
  const rows = rowsOf<
    RawRow<typeof deliveries, 'id' | 'status' | 'event'> &
      RawRow<typeof destinations, 'purposes'> & {
        found: boolean;
        erased: boolean;
        ledger: { purpose: string; status: 'granted' | 'denied'; at: string; source: string; recordId: string }[];
      }
  >(
    await tx.execute(sql`
      select d.id, d.status, d.event, t.purposes, p."liveId" is not null as found, coalesce(p.erased, false) as erased,
        case when cardinality(t.purposes) = 0 then '[]'::json
          else ${ledgerJsonOf(liveRecordPksOf(sql`p."liveId"`))} end as ledger
      from deliveries d join destinations t on t.id = d.destination_id
        left join lateral ${standingOf(sql`d.profile_id`)} p on true
      where d.id = any(${uuidArray(deliveryIds)})`),
  );
  const purposes = ctx.workspace().purposes;
  const verdicts = new Map<string, Verdict>();
  for (const row of rows) {
    const entries: ConsentEntry[] = row.ledger.map((e) => ({ ...e, at: new Date(e.at) }));
    const allowed =
      !needsConsent(row.event) ||
      (row.found && !row.erased && qualifies(currentConsent(entries), row.purposes, (p) => purposes.defaultOf(p)));
    verdicts.set(row.id, { status: row.status, allowed });
  }
  return verdicts;
}

export type Admission = { pass: true; handedOff: () => void } | { pass: false };

interface Waiting {
  deliveryId: string;
  resolve(admission: Admission): void;
  reject(error: unknown): void;
}

/**
 * The last check before a delivery's body leaves, closing the race with linking. A withdrawal is
 * linked by inserting its consent entry, and an erasure deletes the person's records with their
 * entries: both hold a ROW EXCLUSIVE lock on `consent_entries` from that statement until they
 * commit. The gate locks the table in SHARE mode, which waits for those writers and makes them wait,
 * reads the ledger, lets the bodies that still qualify onto their already connected sockets, and
 * commits only once they are handed over. So a withdrawal either commits before the check (and the
 * body is withheld) or is written after the body has gone: no body of a person leaves, for a
 * purpose, after their withdrawal is linked.
 *
 * Only transactions that write consent entries meet the gate; linking records without consent
 * never waits for it nor it for them. (The resolution lock, which every linking transaction holds
 * to its end, would have done as well, but a gate queued behind back-to-back linking transactions
 * took delivery from 76 to 19 a second.) What the gate does not see: a merge that moves a withdrawn
 * record into the profile, or the deletion of the record that held a grant; both change a
 * profile's consent without writing an entry, and the golden record's refresh catches them.
 *
 * Every send waiting at one moment is decided in one transaction: the cost is one round trip per
 * round, however many sends are in flight.
 */
export class ConsentGate {
  readonly #ctx: PipelineContext;
  #waiting: Waiting[] = [];
  #running = false;

  constructor(ctx: PipelineContext) {
    this.#ctx = ctx;
  }

  /** Resolves when the delivery may go (call `handedOff` once its bytes are on the socket), or must not. */
  admit(deliveryId: string): Promise<Admission> {
    return new Promise<Admission>((resolve, reject) => {
      this.#waiting.push({ deliveryId, resolve, reject });
      if (!this.#running) void this.#run();
    });
  }

  async #run() {
    this.#running = true;
    try {
      while (this.#waiting.length > 0) {
        const round = this.#waiting.splice(0);
        await this.#decide(round).catch((error: unknown) => {
          for (const w of round) w.reject(error);
        });
      }
    } finally {
      this.#running = false;
    }
  }

  async #decide(round: Waiting[]) {
    await this.#ctx.database.db.transaction(async (tx) => {
      await lockLedgerShared(tx);
      const decided = await verdicts(
        this.#ctx,
        tx,
        round.map((w) => w.deliveryId),
      );
      const go = round.filter((w) => {
        const verdict = decided.get(w.deliveryId);
        // Not `sending` any more: withdrawn by an erasure, or its destination deleted.
        return verdict?.status === 'sending' && verdict.allowed;
      });
      const withheld = round.filter((w) => decided.get(w.deliveryId)?.status === 'sending' && !go.includes(w));
      if (withheld.length > 0) {
        await tx.execute(sql`
          update deliveries set status = 'withheld', last_error = 'consent withdrawn before it was sent', updated_at = now()
          where id = any(${uuidArray(withheld.map((w) => w.deliveryId))}) and status = 'sending'`);
      }
      const handedOff = go.map((w) => new Promise<void>((resolve) => w.resolve({ pass: true, handedOff: resolve })));
      for (const w of round) if (!go.includes(w)) w.resolve({ pass: false });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(handedOff), new Promise((resolve) => (timer = setTimeout(resolve, HOLD_MS)))]);
      clearTimeout(timer);
    });
  }
}

const gates = new WeakMap<PipelineContext, ConsentGate>();

/** The gate of this hub (a test process may run several hubs, each with its own database). */
export function consentGate(ctx: PipelineContext): ConsentGate {
  const known = gates.get(ctx);
  if (known) return known;
  const gate = new ConsentGate(ctx);
  gates.set(ctx, gate);
  return gate;
}
