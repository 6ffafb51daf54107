import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

const REPO = path.join(import.meta.dirname, '..', '..');

/**
 * The example workspace shipped at the repository's root, by name. An ops engineer adds their own
 * sources beside these (as the README tells them to), so a test of the example copies these files
 * and no others: a source added there, with its secret unset, does not break it.
 */
export const EXAMPLE_WORKSPACE_FILES = [
  'connectors/billing.yaml',
  'connectors/erp.yaml',
  'connectors/marketing.yaml',
  'connectors/support.yaml',
  'mappings/billing-customer.yaml',
  'mappings/erp-company.yaml',
  'mappings/erp-partner.yaml',
  'mappings/marketing-contact.yaml',
  'mappings/support-user.yaml',
  'consent.yaml',
] as const;

/** A copy of the shipped example workspace (its files alone) in a fresh temp dir. */
export function copyExampleWorkspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'aurum-example-'));
  for (const name of EXAMPLE_WORKSPACE_FILES) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    cpSync(path.join(REPO, name), path.join(dir, name));
  }
  return dir;
}
