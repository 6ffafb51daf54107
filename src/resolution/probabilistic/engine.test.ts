import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Profile } from '../../mapping/profile.ts';
import { compareHere, describeRecords, resolveBatch } from './batch.ts';
import { clusterLinks, PairList, UnionFind } from './cluster.ts';
import { loadIdentityConfig } from './config.ts';
import { estimateLambda } from './em.ts';
import { Engine } from './engine.ts';
import { FeatureTableBuilder } from './feature-table.ts';
import { levelOf } from './levels.ts';
import { Nicknames } from './nicknames.ts';

const engine = new Engine(loadIdentityConfig(undefined), Nicknames.load());
const resolve = (e: Engine, inputs: { profile: Profile }[]) => {
  const records = describeRecords(
    e,
    inputs.map((i) => i.profile),
  );
  return resolveBatch(e, records, compareHere(e, records.table));
};
const levels = (field: string) => engine.config.comparisons.find((c) => c.field === field)?.levels ?? [];

describe('comparison levels', () => {
  it('find nicknames, transposed dates, typos and phonetic matches', () => {
    const nick = engine.nicknames;
    expect(levelOf(levels('name.given'), ['peggy'], ['margaret'], nick)).toBe(2);
    expect(levelOf(levels('name.given'), ['bob'], ['robert'], nick)).toBe(2);
    expect(levelOf(levels('dateOfBirth'), ['19800203'], ['19800302'], nick)).toBe(2);
    expect(levelOf(levels('dateOfBirth'), ['19800203'], ['19800213'], nick)).toBe(3);
    const family = levels('name.family');
    expect(levelOf(family, ['smith'], ['smyth'], nick)).toBe(family.findIndex((l) => 'metaphone' in l) + 1);
    expect(levelOf(levels('name.family'), ['smith'], [], nick)).toBe(0);
    expect(levelOf(levels('name.family'), ['smith'], ['okonkwo'], nick)).toBe(levels('name.family').length + 1);
  });
});

describe('the engine', () => {
  const person = (given: string, family: string, dob: string, postcode: string) => ({
    name: { given, family },
    dateOfBirth: dob,
    addresses: [{ postalCode: postcode, line1: `${postcode.length} high street` }],
  });

  it('links typo’d records of one person and keeps different people apart, without labels', async () => {
    const people = Array.from({ length: 300 }, (_, i) =>
      person(`given${i % 97}x`, `family${i}`, `19${String(40 + (i % 50)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 9}`, String(2000 + i)),
    );
    const typos = people.slice(0, 100).map((p) => ({ ...p, name: { ...p.name, family: `${p.name.family}e` } }));
    const inputs = [...people, ...typos].map((profile, i) => ({ key: `r${i}`, profile }));
    const { cluster, model } = await resolve(engine, inputs);
    for (let i = 0; i < 100; i++) expect(cluster[300 + i]).toBe(cluster[i]);
    expect(new Set(cluster).size).toBe(300);
    expect(model.lambda).toBeGreaterThan(0);
    expect(model.lambda).toBeLessThan(0.01);
  });

  it('links by match weight when thresholdWeight is set', async () => {
    const strict = new Engine({ ...engine.config, thresholdWeight: 1000 }, engine.nicknames);
    const inputs = [0, 1].map((i) => ({ key: `w${i}`, profile: person('ann', 'zabrowski', '1960-05-05', '5000') }));
    const padding = Array.from({ length: 50 }, (_, i) => ({
      key: `p${i}`,
      profile: person(`g${i}`, `f${i}`, '1980-01-01', String(6000 + i)),
    }));
    expect(new Set((await resolve(strict, [...inputs, ...padding])).cluster.slice(0, 2)).size).toBe(2);
    const lenient = new Engine({ ...engine.config, thresholdWeight: -1000 }, engine.nicknames);
    expect(new Set((await resolve(lenient, [...inputs, ...padding])).cluster.slice(0, 2)).size).toBe(1);
  });

  it('gives a rare exact surname more weight than a common one (term frequencies)', () => {
    const profiles = [
      ...Array.from({ length: 98 }, () => person('ann', 'smith', '1970-01-01', '3000')),
      person('ann', 'zabrowski', '1960-05-05', '5000'),
      person('ann', 'zabrowski', '1960-05-05', '5000'),
    ];
    const features = profiles.map((p) => engine.features(p));
    const tf = engine.termFrequencies(FeatureTableBuilder.from(features, engine.config.comparisons.length));
    const family = engine.config.comparisons.findIndex((c) => c.field === 'name.family');
    const model = {
      lambda: 0.001,
      m: engine.config.comparisons.map(() => [1, 0.9, 0.05, 0.03, 0.01, 0.01]),
      u: engine.config.comparisons.map(() => [1, 0.01, 0.02, 0.03, 0.04, 0.9]),
      tf,
    };
    const weight = (value: string) => engine.fieldWeight(model, family, 1) + engine.tfAdjustment(model, family, value);
    expect(weight('zabrowski')).toBeGreaterThan(weight('smith'));
    expect(weight('zabrowski') - weight('smith')).toBeCloseTo(Math.log2(98 / 2), 5);
  });
});

describe('a group of comparisons (an address)', () => {
  const model = engine.defaultModel();
  const field = (f: string) => engine.config.comparisons.findIndex((c) => c.field === f);
  const address = ['addresses.postalCode', 'addresses.line1', 'addresses.city'].map(field);
  const scored = (a: Profile, b: Profile) => engine.score(model, engine.features(a), engine.features(b));
  const ann = (line1: string, city: string, postalCode: string): Profile => ({
    name: { given: 'ann', family: 'zabrowski' },
    dateOfBirth: '1960-05-05',
    addresses: [{ line1, city, postalCode }],
  });
  const disagreement = (c: number) => engine.fieldWeight(model, c, (engine.config.comparisons[c]?.levels.length ?? 0) + 1);

  it('counts someone who moved (street, town and postcode all differ) as one disagreement, the strongest', () => {
    const home = ann('1 high street', 'leeds', 'ls1 4ap');
    const moved = scored(home, ann('22 ocean drive', 'brighton', 'bn2 1tt'));
    const unknown = scored(home, { ...home, addresses: [] });
    for (const c of address) expect(moved.levels[c]).toBe((engine.config.comparisons[c]?.levels.length ?? 0) + 1);
    expect(moved.weight - unknown.weight).toBeCloseTo(Math.min(...address.map(disagreement)), 6);
    expect(address.map(disagreement).reduce((a, b) => a + b)).toBeLessThan(Math.min(...address.map(disagreement)));
  });

  it('counts every field of the group when one of them agrees', () => {
    const home = ann('1 high street', 'leeds', 'ls1 4ap');
    const sameTown = scored(home, ann('22 ocean drive', 'leeds', 'bn2 1tt'));
    const unknown = scored(home, { ...home, addresses: [] });
    const [postcode, line1] = address as [number, number, number];
    const town = engine.fieldWeight(model, address[2] as number, 1);
    expect(sameTown.weight - unknown.weight).toBeCloseTo(disagreement(postcode) + disagreement(line1) + town, 6);
  });

  it('is read from identity.yaml, where a group that is not a name is refused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aurum-group-'));
    writeFileSync(
      path.join(dir, 'identity.yaml'),
      'add:\n  comparisons:\n    - field: attributes.birthPlace\n      group: 3\n      levels: [{ exact: true }]\n',
    );
    expect(() => loadIdentityConfig(dir)).toThrow(/group/);
    writeFileSync(
      path.join(dir, 'identity.yaml'),
      'add:\n  comparisons:\n    - field: attributes.birthPlace\n      group: address\n      levels: [{ exact: true }]\n',
    );
    expect(loadIdentityConfig(dir).comparisons.find((c) => c.field === 'attributes.birthPlace')?.group).toBe('address');
  });
});

describe('the prior', () => {
  it('counts pairs that break a cannotLink rule among the pairs, never among the matches', () => {
    const m = [[1, 0.9, 0.1]];
    const u = [[1, 0.001, 0.999]];
    const agree = Uint8Array.of(1);
    const apart = estimateLambda(
      [
        { levels: agree, count: 10 },
        { levels: agree, count: 10, apart: true },
        { levels: Uint8Array.of(2), count: 980 },
      ],
      m,
      u,
    );
    const counted = estimateLambda(
      [
        { levels: agree, count: 20 },
        { levels: Uint8Array.of(2), count: 980 },
      ],
      m,
      u,
    );
    expect(apart.lambda).toBeLessThan(counted.lambda * 0.6);
    expect(apart.lambda).toBeGreaterThan(0.008);
  });
});

describe('clustering', () => {
  it('takes links strongest first and never chains two records scored far apart into one cluster', () => {
    // 0–1 and 1–2 link; 0 and 2 were scored far apart: the weaker link 1–2 is left out.
    const links = () => [
      { a: 1, b: 2, weight: 12 },
      { a: 0, b: 1, weight: 20 },
      { a: 3, b: 4, weight: 15 },
    ];
    const apart = new PairList();
    apart.push(0, 2);
    const constrained = new UnionFind(5);
    expect(clusterLinks(constrained, links(), apart)).toBe(2);
    expect([0, 1, 2, 3, 4].map((i) => constrained.find(i))).toEqual([0, 0, 2, 3, 3]);
    // Without the constraint: connected components.
    const plain = new UnionFind(5);
    expect(clusterLinks(plain, links(), new PairList())).toBe(3);
    expect([0, 1, 2].map((i) => plain.find(i))).toEqual([0, 0, 0]);
  });

  it('keeps records apart across clusters joined earlier, whichever side is larger', () => {
    // 0–1–2 form one cluster first; 3 was scored far apart from 1, so 2–3 may not join them.
    const apart = new PairList();
    apart.push(3, 1);
    const uf = new UnionFind(4);
    const taken = clusterLinks(
      uf,
      [
        { a: 0, b: 1, weight: 30 },
        { a: 1, b: 2, weight: 25 },
        { a: 2, b: 3, weight: 20 },
      ],
      apart,
    );
    expect(taken).toBe(2);
    expect(uf.find(3)).toBe(3);
    expect(uf.find(2)).toBe(0);
  });
});
