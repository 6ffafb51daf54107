/**
 * The layout's rule (`npm run lint` runs scripts/check-folders.ts): the folders of src/ import each
 * other without cycles; type-only imports do not count.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeWorkspace } from './helpers/workspace.ts';

const REPO = path.join(import.meta.dirname, '..');
const CHECK = path.join(REPO, 'scripts', 'check-folders.ts');
const check = (cwd: string) => spawnSync(process.execPath, [CHECK], { cwd, encoding: 'utf8' });

/** A tree of `files` (path → text) in a fresh temp dir; the check reads its src/ alone. */
const tree = (files: Record<string, string>) => writeWorkspace(files, 'aurum-folders-');

describe('the folder import graph', () => {
  it('has no cycle in src/', () => {
    const run = check(REPO);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/no import cycles among \d+ folders of src\//);
  });

  it('fails on a cycle between two folders, naming them and the imports that close it', () => {
    const run = check(
      tree({
        'src/golden/build.ts': "import { send } from '../delivery/send.ts';\nexport const build = () => send;\n",
        'src/delivery/send.ts': "import { build } from '../golden/build.ts';\nexport const send = () => build;\n",
        'src/mapping/apply.ts': 'export const apply = 1;\n',
      }),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('an import cycle joins src/delivery, src/golden');
    expect(run.stderr).toContain('src/golden/build.ts → src/delivery/send.ts');
    expect(run.stderr).toContain('src/delivery/send.ts → src/golden/build.ts');
    expect(run.stderr).not.toContain('src/mapping');
  });

  it('does not count type-only imports, which compile away', () => {
    const run = check(
      tree({
        'src/queue/catalog.ts':
          "import type { SendJob } from '../delivery/send.ts';\nexport type Payload = SendJob;\nexport const enqueue = 1;\n",
        'src/delivery/send.ts':
          "import { enqueue } from '../queue/catalog.ts';\nexport interface SendJob { id: string }\nexport const send = enqueue;\n",
      }),
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
