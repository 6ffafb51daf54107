import { describe, expect, it } from 'vitest';
import { trainHere, trainOffThread } from './live-model.ts';
import { loadIdentityConfig } from './probabilistic/config.ts';

const GIVEN = ['ann', 'bob', 'carla', 'dev', 'erin', 'farid', 'gita', 'hugo'];
const FAMILY = ['smith', 'okafor', 'lindqvist', 'tanaka', 'moreau', 'kowalski'];

describe('training the live model', () => {
  it('gives the same model off the event loop as on it', async () => {
    const fragments: string[] = [];
    for (let i = 0; i < 120; i++) {
      const profile = {
        name: { given: GIVEN[i % GIVEN.length], family: FAMILY[i % FAMILY.length] },
        dateOfBirth: `19${50 + (i % 40)}-0${1 + (i % 9)}-1${i % 10}`,
        addresses: [{ postalCode: `AB${i % 30} 1CD`, city: 'leeds' }],
      };
      fragments.push(JSON.stringify(profile));
      // Every third person has a second record with a typo in the surname.
      if (i % 3 === 0) fragments.push(JSON.stringify({ ...profile, name: { ...profile.name, family: `${profile.name.family}e` } }));
    }
    const config = loadIdentityConfig(undefined);
    const here = trainHere(config, fragments);
    const there = await trainOffThread(config, fragments);
    expect(here.pairs).toBeGreaterThan(0);
    expect(there.pairs).toBe(here.pairs);
    expect(there.model.lambda).toBeCloseTo(here.model.lambda, 12);
    expect(there.model.m).toEqual(here.model.m);
    expect(there.model.u).toEqual(here.model.u);
  });
});
