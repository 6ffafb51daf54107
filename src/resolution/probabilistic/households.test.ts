import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../config/yaml-file.ts';
import type { Profile } from '../../mapping/profile.ts';
import { loadIdentityConfig } from './config.ts';
import { CANNOT_LINK_WEIGHT, Engine } from './engine.ts';
import { nameParts, normaliseText } from './features.ts';
import { Nicknames } from './nicknames.ts';

const workspace = (yaml: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-identity-'));
  writeFileSync(path.join(dir, 'identity.yaml'), yaml);
  return dir;
};
const engine = new Engine(loadIdentityConfig(undefined), Nicknames.load());
const score = (a: Profile, b: Profile, e = engine) => e.score(e.defaultModel(), e.features(a), e.features(b));

const smiths = { emails: ['smiths@example.com'], phones: ['+442079460201'], addresses: [{ line1: '1 Elm Street', postalCode: 'AB1 2CD' }] };

describe('the default model, before any training', () => {
  it('keeps a couple sharing an email, a phone and a street apart: their given names and dates of birth differ', () => {
    const s = score(
      { name: { given: 'John', family: 'Smith' }, dateOfBirth: '1960-03-01', ...smiths },
      { name: { given: 'Jane', family: 'Smith' }, dateOfBirth: '1962-07-15', ...smiths },
    );
    expect(s.cannotLink).toBe('name.given unless nationalId');
    expect(s.weight).toBe(CANNOT_LINK_WEIGHT);
    expect(engine.links(s.weight)).toBe(false);
  });

  it('keeps twins apart, and a parent and child of one name by their dates of birth or suffixes', () => {
    const twin = { name: { family: 'Jones' }, dateOfBirth: '1990-05-05', ...smiths };
    expect(
      score({ ...twin, name: { given: 'Oliver', family: 'Jones' } }, { ...twin, name: { given: 'Harry', family: 'Jones' } }).cannotLink,
    ).toBeDefined();
    const robert = { name: { given: 'Robert', family: 'King' }, ...smiths };
    expect(score({ ...robert, dateOfBirth: '1950-04-12' }, { ...robert, dateOfBirth: '1979-08-30' }).cannotLink).toBe(
      'dateOfBirth unless nationalId',
    );
    expect(score({ name: { full: 'Robert King Sr.' }, ...smiths }, { name: { full: 'Robert King Jr' }, ...smiths }).cannotLink).toBe(
      'name.suffix',
    );
  });

  it('lets only an exact national id rescue different given names, and a near one different dates of birth', () => {
    const twin = { name: { family: 'Jones' }, dateOfBirth: '1990-05-05', ...smiths };
    const oliver = { ...twin, name: { given: 'Oliver', family: 'Jones' }, nationalId: '900505123' };
    expect(score(oliver, { ...twin, name: { given: 'Harry', family: 'Jones' }, nationalId: '900505124' }).cannotLink).toBe(
      'name.given unless nationalId',
    );
    expect(score(oliver, { ...twin, name: { given: 'Harry', family: 'Jones' }, nationalId: '900505123' }).cannotLink).toBeUndefined();
    // One person whose date of birth was mistyped beyond a typo, with a typo in the national id too.
    expect(
      score({ ...oliver, dateOfBirth: '1990-05-05' }, { ...oliver, dateOfBirth: '1909-12-25', nationalId: '900505128' }).cannotLink,
    ).toBeUndefined();
  });

  it('takes given names only loosely alike (Mark and Mary) for two people where a rule says agreeLevel', () => {
    const twins = { name: { family: 'Jones' }, dateOfBirth: '1990-05-05', ...smiths };
    const mark = { ...twins, name: { given: 'Mark', family: 'Jones' } };
    const mary = { ...twins, name: { given: 'Mary', family: 'Jones' } };
    // By default a loose likeness (the last given-name level) is agreement enough.
    expect(score(mark, mary).cannotLink).toBeUndefined();
    const strict = new Engine(
      loadIdentityConfig(
        workspace(`cannotLink:
  - disagree: [name.given]
    agreeLevel: 5
    unless: [nationalId]
`),
      ),
      Nicknames.load(),
    );
    expect(score(mark, mary, strict).cannotLink).toBe('name.given unless nationalId');
    // A typo is still the same name.
    expect(score(mark, { ...twins, name: { given: 'Makr', family: 'Jones' } }, strict).cannotLink).toBeUndefined();
  });

  it('links on a shared email and a name, through typos, nicknames, initials and swapped names', () => {
    const base = { name: { given: 'Margaret', family: 'Okafor' }, emails: ['mo@example.com'] };
    for (const other of [
      { given: 'Peggy', family: 'Okafor' },
      { given: 'Mararet', family: 'Okafor' },
      { given: 'M', family: 'Okafor' },
      { given: 'Okafor', family: 'Margaret' },
    ]) {
      const s = score(base, { name: other, emails: ['mo@example.com'] });
      expect(s.cannotLink, JSON.stringify(other)).toBeUndefined();
      expect(engine.links(s.weight), JSON.stringify(other)).toBe(true);
    }
  });

  it('does not link on a shared phone alone, nor on a surname and a postcode that others share', () => {
    expect(engine.links(score({ phones: ['+442079460299'] }, { phones: ['+442079460299'] }).weight)).toBe(false);
    expect(engine.links(score({ emails: ['solo@example.com'] }, { emails: ['solo@example.com'] }).weight)).toBe(true);
  });
});

describe('names across scripts', () => {
  it('transliterates, takes accents off and spells ß as ss', () => {
    expect(normaliseText('Иван Петров')).toBe('ivan petrov');
    expect(normaliseText('张伟')).toBe('zhangwei');
    expect(normaliseText('Straße')).toBe('strasse');
    expect(normaliseText('José Müller')).toBe('jose muller');
  });

  it('splits full names, drops titles and takes generational suffixes off', () => {
    expect(nameParts({ full: 'Smith, John' })).toMatchObject({ given: 'john', family: 'smith' });
    expect(nameParts({ full: 'Dr. John Smith Jr.' })).toEqual({ given: 'john', family: 'smith', full: 'john smith', suffix: 'jr' });
    expect(nameParts({ given: 'John', family: 'Smith', suffix: 'Junior' }).suffix).toBe('jr');
    expect(nameParts({ full: 'John Smith, Jr.' })).toMatchObject({ given: 'john', family: 'smith', suffix: 'jr' });
    expect(nameParts({ full: 'John Smith Jnr' })).toMatchObject({ given: 'john', family: 'smith', suffix: 'jr' });
  });
});

describe('identity.yaml add:', () => {
  it('adds comparisons, blocking and cannotLink rules to the defaults, and compares attributes', () => {
    const config = loadIdentityConfig(
      workspace(`add:
  comparisons:
    - field: attributes.occupation
      levels: [{ jaroWinkler: 0.9 }]
    - field: attributes.gender
      levels: [{ exact: true }]
  blocking:
    - [name.family:metaphone, attributes.occupation]
  cannotLink:
    - disagree: [attributes.gender]
`),
    );
    const defaults = loadIdentityConfig(undefined);
    expect(config.comparisons.map((c) => c.field)).toEqual([
      ...defaults.comparisons.map((c) => c.field),
      'attributes.occupation',
      'attributes.gender',
    ]);
    expect(config.blocking).toHaveLength(defaults.blocking.length + 1);
    const e = new Engine(config, Nicknames.load());
    const s = score(
      { name: { given: 'Sam', family: 'Lee' }, emails: ['lee@example.com'], attributes: { gender: 'f', occupation: 'nurse' } },
      { name: { given: 'Sam', family: 'Lee' }, emails: ['lee@example.com'], attributes: { gender: 'm', occupation: 'nurse' } },
      e,
    );
    expect(s.cannotLink).toBe('attributes.gender');
    expect(e.explain(s.levels, 0)['attributes.occupation']).toBe('jaroWinkler>=0.9');
  });

  it('refuses a cannotLink rule on a field nothing compares, and m or u of the wrong length', () => {
    const problems = (yaml: string) => {
      try {
        loadIdentityConfig(workspace(yaml));
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => p.message);
      }
    };
    expect(problems('add:\n  cannotLink:\n    - disagree: [attributes.gender]\n')).toEqual([
      '"attributes.gender" is not compared: add a comparison for it',
    ]);
    expect(problems('add:\n  cannotLink:\n    - disagree: [name.given]\n      whileRarerThan: 0.1\n')).toEqual([
      'whileRarerThan measures pairs that agree on an unless field: give unless',
    ]);
    expect(problems('add:\n  comparisons:\n    - field: attributes.x\n      levels: [{ exact: true }]\n      m: [0.9]\n').join()).toMatch(
      /m/,
    );
  });
});

describe('training on small data', () => {
  it('blends what EM learns with the defaults by the evidence behind it, and keeps a pinned comparison as given', () => {
    const prior = engine.priors().m;
    const learned = prior.map((row) => row.map((_, l) => (l === 0 ? 1 : 1 / (row.length - 1))));
    const none = engine.blendM(
      learned,
      prior.map(() => 0),
    );
    expect(none).toEqual(prior);
    const plenty = engine.blendM(
      learned,
      prior.map(() => 1e9),
    );
    expect(plenty[0]?.[1]).toBeCloseTo(learned[0]?.[1] as number, 5);
    const pinned = new Engine(
      loadIdentityConfig(
        workspace(
          'add:\n  comparisons:\n    - field: emails\n      levels: [{ exact: true }]\n      m: [0.5, 0.5]\n      u: [0.001, 0.999]\n      pin: true\n',
        ),
      ),
      Nicknames.load(),
    );
    const c = pinned.config.comparisons.findIndex((x) => x.field === 'emails');
    expect(
      pinned.blendM(
        learned,
        prior.map(() => 1e9),
      )[c],
    ).toEqual([1, 0.5, 0.5]);
  });
});
