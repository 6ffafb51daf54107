import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Writes a workspace of the test's own into a fresh temp dir: `files` maps a path in it
 * (`connectors/crm.yaml`, `mappings/crm.yaml`, `identity.yaml`) to its text. Returns the dir.
 */
export function writeWorkspace(files: Record<string, string>, prefix = 'aurum-ws-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  mkdirSync(path.join(dir, 'connectors'));
  mkdirSync(path.join(dir, 'mappings'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}
