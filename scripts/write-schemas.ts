/**
 * `npm run schemas`: writes the published JSON Schemas of the canonical entities from the field
 * registry (src/mapping/fields.ts). A test fails when the files and the registry disagree.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SCHEMA_FILES, schemaOf } from '../src/mapping/fields.ts';

for (const [entity, file] of Object.entries(SCHEMA_FILES)) {
  const target = path.join(import.meta.dirname, '..', 'src', 'mapping', file);
  writeFileSync(target, `${JSON.stringify(schemaOf(entity as keyof typeof SCHEMA_FILES), null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
}
