export interface ConsentEntry {
  purpose: string;
  status: 'granted' | 'denied';
  at: Date;
  source: string;
  recordId: string;
}

export interface ConsentStatus {
  purpose: string;
  status: 'granted' | 'denied';
  at: string;
  source: string;
  recordId: string;
}

/**
 * The current status per purpose: the entry with the latest `at`; at equal times a denial wins,
 * so an ambiguous ledger never sends what someone may have withdrawn.
 */
export function currentConsent(entries: readonly ConsentEntry[]): ConsentStatus[] {
  const decided = new Map<string, ConsentEntry>();
  for (const entry of entries) {
    const best = decided.get(entry.purpose);
    const later = !best || entry.at.getTime() > best.at.getTime();
    const tieDenied = best && entry.at.getTime() === best.at.getTime() && entry.status === 'denied';
    if (later || tieDenied) decided.set(entry.purpose, entry);
  }
  return [...decided.values()]
    .sort((a, b) => a.purpose.localeCompare(b.purpose))
    .map((e) => ({ purpose: e.purpose, status: e.status, at: e.at.toISOString(), source: e.source, recordId: e.recordId }));
}

/**
 * A destination with purposes receives a profile only while every one of them is granted: by the
 * latest entry, or, where the profile has none, by the purpose's default (consent.yaml; denied).
 */
export function qualifies(
  consent: readonly ConsentStatus[],
  purposes: readonly string[],
  defaultOf: (purpose: string) => 'granted' | 'denied' = () => 'denied',
): boolean {
  return purposes.every((p) => (consent.find((c) => c.purpose === p)?.status ?? defaultOf(p)) === 'granted');
}
