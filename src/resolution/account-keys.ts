import type { Account } from '../mapping/account.ts';
import { registrationId } from '../mapping/account.ts';
import { companyNameKey, isFreeMailDomain } from '../mapping/company-names.ts';
import { normaliseHost } from '../mapping/domains.ts';
import type { AccountRef } from '../mapping/profile.ts';
import type { AccountIdentityConfig, IdentityConfig } from './probabilistic/config.ts';
import type { LinkKey, Model } from './probabilistic/engine.ts';
import { normaliseText } from './probabilistic/features.ts';

/**
 * Every account key starts `a:`, so no person's key (`email:`, `ext:`, a rule's hash) ever finds an
 * account's record, nor the other way round: resolution runs within a type.
 */
export const ACCOUNT_KEY_PREFIX = 'a:';

/** The keys that link accounts outright, with the rule each stands for (`domains`, `externalIds.erp`). */
export function accountIdentifierKeys(account: Account, config: AccountIdentityConfig, blocked: ReadonlySet<string>): LinkKey[] {
  const keys: LinkKey[] = [];
  const usable = (value: string) => !blocked.has(normaliseText(value));
  if (config.identifiers.includes('externalIds')) {
    for (const [system, id] of Object.entries(account.externalIds ?? {})) {
      if (usable(id)) keys.push({ key: `a:ext:${system}:${id}`, rule: `externalIds.${system}` });
    }
  }
  if (config.identifiers.includes('registrationIds')) {
    for (const [scheme, id] of Object.entries(account.registrationIds ?? {})) {
      if (usable(id)) keys.push({ key: `a:reg:${scheme}:${registrationId(id)}`, rule: `registrationIds.${scheme}` });
    }
  }
  if (config.identifiers.includes('domains')) {
    for (const domain of account.domains ?? []) {
      if (!isFreeMailDomain(domain) && usable(domain)) keys.push({ key: `a:domain:${domain}`, rule: 'domains' });
    }
  }
  return keys;
}

/** Keys stored only so that memberships can name an account: its name (legal form stripped) and every key a ref may use. */
export function accountReferenceKeys(account: Account): string[] {
  const keys: string[] = [];
  if (account.name) keys.push(`a:name:${companyNameKey(account.name)}`);
  for (const [system, id] of Object.entries(account.externalIds ?? {})) keys.push(`a:ext:${system}:${id}`);
  for (const [scheme, id] of Object.entries(account.registrationIds ?? {})) keys.push(`a:reg:${scheme}:${registrationId(id)}`);
  for (const domain of account.domains ?? []) if (!isFreeMailDomain(domain)) keys.push(`a:domain:${domain}`);
  return keys;
}

/**
 * The key a person's membership names its account by, as the account's own records store it. A
 * free-mail domain gives a key no account holds: the membership is kept, and resolves to nothing.
 */
export function referenceKey(ref: AccountRef): string {
  if ('externalIds' in ref) {
    const [system, id] = Object.entries(ref.externalIds)[0] as [string, string];
    return `a:ext:${system}:${id}`;
  }
  if ('registrationIds' in ref) {
    const [scheme, id] = Object.entries(ref.registrationIds)[0] as [string, string];
    return `a:reg:${scheme}:${registrationId(id)}`;
  }
  if ('domain' in ref) return `a:domain:${normaliseHost(ref.domain) ?? ref.domain.toLowerCase()}`;
  return `a:name:${companyNameKey(ref.name)}`;
}

const engineConfigs = new WeakMap<IdentityConfig, IdentityConfig>();
/** The account section as a configuration the engine runs (the persons' blocked values and limits kept). */
export function accountEngineConfig(identity: IdentityConfig): IdentityConfig {
  let config = engineConfigs.get(identity);
  if (!config) {
    const account = identity.account;
    config = {
      ...identity,
      threshold: account.threshold,
      deterministic: [],
      blocking: account.blocking,
      comparisons: account.comparisons.map(({ field, levels }) => ({ field, levels })),
      // A person's cannotLink rules (given names, dates of birth) say nothing of companies.
      cannotLink: [],
    };
    delete config.thresholdWeight;
    engineConfigs.set(identity, config);
  }
  return config;
}

/** The accounts' model, as declared: the null level (index 0) weighs nothing, as in a trained model. */
export function accountModel(account: AccountIdentityConfig): Model {
  return {
    lambda: account.prior,
    m: account.comparisons.map((c) => [1, ...c.m]),
    u: account.comparisons.map((c) => [1, ...c.u]),
    tf: account.comparisons.map(() => undefined),
  };
}
