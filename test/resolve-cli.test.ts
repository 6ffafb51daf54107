import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = path.join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
const repo = path.join(import.meta.dirname, '..');
const febrl = path.join(repo, '..', 'shared', 'datasets', 'febrl3.csv');
const aurum = (...args: string[]) => run(process.execPath, [cli, ...args], { maxBuffer: 64 * 1024 * 1024 });

function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-resolve-'));
  mkdirSync(path.join(dir, 'connectors'));
  mkdirSync(path.join(dir, 'mappings'));
  writeFileSync(path.join(dir, 'connectors', 'crm.yaml'), 'type: file\n');
  writeFileSync(path.join(dir, 'connectors', 'shop.yaml'), 'type: file\n');
  writeFileSync(
    path.join(dir, 'mappings', 'crm.yaml'),
    'source: crm\nrecordId: id\nonInvalid: quarantine\nprofile: |\n  { "name": {"given": first, "family": last}, "emails": [email], "dateOfBirth": dob }\n',
  );
  writeFileSync(
    path.join(dir, 'mappings', 'shop.yaml'),
    'source: shop\nrecordId: customer\nprofile: |\n  { "name": {"full": name, "given": $split(name, " ")[0], "family": $split(name, " ")[1]}, "emails": [mail], "dateOfBirth": born }\n',
  );
  // Spaces around unquoted fields are trimmed; one record breaks its mapping's schema (its email is none, and crm quarantines such records).
  writeFileSync(
    path.join(dir, 'crm.csv'),
    'id, first, last, email, dob\n1, Robert, Smith, bob@example.com, 1980-02-03\n2, Margaret, Jones, peg@example.com, 1975-11-20\n3, Ann, Lee, not-an-email, 1990-01-01\n',
  );
  writeFileSync(
    path.join(dir, 'shop.ndjson'),
    `${JSON.stringify({ customer: 'a', name: 'Bob Smith', mail: 'bob@example.com', born: '1980-03-02' })}\n${JSON.stringify({ customer: 'b', name: 'Peggy Jones', mail: 'mjones@example.com', born: '1975-11-20' })}\n${JSON.stringify({ customer: 'c', name: 'Zed Quux', mail: 'zed@example.com', born: '2001-07-07' })}\n`,
  );
  return dir;
}

describe('aurum resolve', () => {
  it('maps CSV and NDJSON inputs, writes source,record_id,profile_id for each, and reports quarantine on stderr', async () => {
    const dir = workspace();
    const out = path.join(dir, 'clusters.csv');
    const { stderr } = await aurum(
      'resolve',
      '--config',
      dir,
      '--input',
      `crm=${path.join(dir, 'crm.csv')}`,
      '--input',
      `shop=${path.join(dir, 'shop.ndjson')}`,
      '--out',
      out,
    );
    expect(stderr).toMatch(/quarantined: .*crm\.csv record 3 .*schema_invalid/);
    expect(stderr).toContain('resolved 5 records');
    // The progress bar, drawn on stderr, shows the rate and the ETA.
    expect(stderr).toMatch(/\d+\/s \| ETA /);
    const rows = readFileSync(out, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('source,record_id,profile_id');
    const profile = new Map(rows.slice(1).map((r) => [r.split(',').slice(0, 2).join('/'), r.split(',')[2]]));
    expect(profile.size).toBe(5);
    expect(profile.get('crm/1')).toBe(profile.get('shop/a')); // same email, nickname, transposed birthday
    expect(profile.get('shop/c')).not.toBe(profile.get('crm/1'));
    expect(existsSync(`${out}.links.ndjson`)).toBe(true);
  });

  it('stops at an NDJSON line that is not JSON, naming the file and line', async () => {
    const dir = workspace();
    const broken = path.join(dir, 'broken.ndjson');
    writeFileSync(broken, `${JSON.stringify({ customer: 'a', name: 'Bob Smith', mail: 'bob@example.com' })}\n\n{"customer": "b", oops\n`);
    const failure = await aurum(
      'resolve',
      '--no-progress',
      '--config',
      dir,
      '--input',
      `shop=${broken}`,
      '--out',
      path.join(dir, 'x.csv'),
    ).then(
      () => undefined,
      (e: { stderr: string }) => e,
    );
    expect(failure?.stderr).toContain(`${broken}:3: not valid JSON`);
  });

  it('refuses an input for a source the workspace does not have', async () => {
    const dir = workspace();
    const failure = await aurum(
      'resolve',
      '--config',
      dir,
      '--input',
      `erp=${path.join(dir, 'crm.csv')}`,
      '--out',
      path.join(dir, 'x.csv'),
    ).catch((e) => e);
    expect(failure.code).not.toBe(0);
    expect(failure.stderr).toContain('there is no source "erp"');
  });
});

describe('aurum evaluate', () => {
  it('reports blocking recall: the share of true pairs a blocking rule proposed, blocks over maxBlockSize skipped', async () => {
    const dir = workspace();
    writeFileSync(path.join(dir, 'identity.yaml'), 'blocking:\n  - [emails]\n  - [name.family, dateOfBirth:year]\nmaxBlockSize: 2\n');
    // Four people with two records each (Sue Brown has one). Robert and Margaret share a key; Ann
    // changed her surname and email, so her records share none; Tom's records share only an email
    // that three records hold, over maxBlockSize.
    writeFileSync(
      path.join(dir, 'crm.csv'),
      'id, first, last, email, dob\n1, Robert, Smith, bob@example.com, 1980-02-03\n2, Margaret, Jones, peg@example.com, 1975-11-20\n' +
        '3, Ann, Lee, ann@example.com, 1990-01-01\n4, Tom, Brown, family@example.com, 1960-05-05\n',
    );
    writeFileSync(
      path.join(dir, 'shop.ndjson'),
      [
        { customer: 'a', name: 'Bob Smith', mail: 'bob@example.com', born: '1980-03-02' },
        { customer: 'b', name: 'Peggy Jones', mail: 'mjones@example.com', born: '1975-11-20' },
        { customer: 'c', name: 'Ann Kowalski', mail: 'ann.k@example.com', born: '1990-01-01' },
        { customer: 'd', name: 'Tom Brown', mail: 'family@example.com' },
        { customer: 'e', name: 'Sue Brown', mail: 'family@example.com', born: '1962-08-08' },
      ]
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(''),
    );
    const truth = path.join(dir, 'truth.csv');
    writeFileSync(
      truth,
      'source,record_id,entity_id\ncrm,1,1\nshop,a,1\ncrm,2,2\nshop,b,2\ncrm,3,3\nshop,c,3\ncrm,4,4\nshop,d,4\nshop,e,5\n',
    );
    const clusters = path.join(dir, 'clusters.csv');
    await aurum(
      'resolve',
      '--no-progress',
      '--config',
      dir,
      '--input',
      `crm=${path.join(dir, 'crm.csv')}`,
      '--input',
      `shop=${path.join(dir, 'shop.ndjson')}`,
      '--out',
      clusters,
    );
    const { stdout } = await aurum('evaluate', '--clusters', clusters, '--truth', truth);
    expect(stdout).toContain('blocking recall     0.5000 (2 of 4 true pairs proposed; 2 candidate pairs; blocks over 2 records skipped)');
    // Per rule: true pairs proposed, those no other rule proposed, candidate pairs.
    expect(stdout).toMatch(/^ {2}emails\s+1\s+0\s+1$/m);
    expect(stdout).toMatch(/^ {2}name\.family\+dateOfBirth:year\s+2\s+1\s+2$/m);
    expect(stdout).toContain('crm/3 ~ shop/c  never compared: no blocking rule proposed it');
    expect(stdout).toContain('crm/4 ~ shop/d  never compared: no blocking rule proposed it');
  });
});

describe('aurum resolve in threads', () => {
  it('gives the same clusters and links however many threads map and compare', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aurum-threads-'));
    // Synthetic people (several chunks of 1,000 records, so every thread maps and compares some).
    const people = path.join(dir, 'people');
    await run(process.execPath, [path.join(repo, 'bench', 'generate-people.ts'), '--people', '2500', '--out', people]);
    const resolveWith = async (threads: number) => {
      const out = path.join(dir, `clusters-${threads}.csv`);
      await aurum(
        'resolve',
        '--no-progress',
        '--threads',
        String(threads),
        '--config',
        path.join(repo, 'bench', 'workspace'),
        '--input',
        `crm=${people}/crm.ndjson`,
        '--input',
        `shop=${people}/shop.csv`,
        '--out',
        out,
      );
      return { clusters: readFileSync(out, 'utf8'), links: readFileSync(`${out}.links.ndjson`, 'utf8') };
    };
    const one = await resolveWith(1);
    const three = await resolveWith(3);
    expect(one.clusters.split('\n').length).toBeGreaterThan(4000);
    expect(three.clusters).toBe(one.clusters);
    expect(three.links).toBe(one.links);
  });
});

describe.runIf(existsSync(febrl))('on FEBRL3 with the default identity configuration and no labels', () => {
  it('scores pairwise F1 of at least 0.99 with blocking proposing at least 95% of true pairs, the worst errors explained', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aurum-febrl-'));
    const clusters = path.join(dir, 'clusters.csv');
    const truth = path.join(dir, 'truth.csv');
    await aurum(
      'resolve',
      '--no-progress',
      '--config',
      path.join(repo, 'examples', 'febrl'),
      '--input',
      `febrl=${febrl}`,
      '--out',
      clusters,
    );
    const { stdout: truthCsv } = await run(process.execPath, [path.join(repo, 'scripts', 'febrl-truth.ts'), febrl]);
    writeFileSync(truth, truthCsv);
    const { stdout } = await aurum('evaluate', '--clusters', clusters, '--truth', truth);
    const f1 = Number(/F1\s+([0-9.]+)/.exec(stdout)?.[1]);
    expect(f1).toBeGreaterThanOrEqual(0.99);
    expect(Number(/^blocking recall\s+([0-9.]+)/m.exec(stdout)?.[1])).toBeGreaterThanOrEqual(0.95);
    // Impossible dates of birth (1940-45-02) are dropped, not compared: none links two people.
    expect(stdout).toMatch(/precision\s+(0\.9\d+|1\.0000)/);
    expect(stdout).toMatch(/recall\s+0\.9\d+/);
    expect(stdout).toMatch(/profiles\s+\d+ \(truth: 2000 entities/);
    expect(stdout).toContain('worst false merges');
    expect(stdout).toContain('worst misses');
  });
});
