/**
 * The layout's rule, run by `npm run lint`: the folders of src/ import each other without cycles,
 * so each stage of the pipeline (connectors → intake → mapping → resolution → golden → delivery)
 * and the modules beside it can be read, tested and changed from the bottom up.
 *
 * dependency-cruiser parses the imports. Its own folder-scope cycle rule counts type-only imports,
 * which are erased at compile time; here they are left out, so a stage may name a type of another
 * (a queue payload, the pipeline context) without that being a dependency. Exits 1 naming each
 * cycle's folders and the imports that close it. `node scripts/check-folders.ts [folder]`.
 */
import path from 'node:path';
import { cruise, type ICruiseResult } from 'dependency-cruiser';

// The folder to check, relative to the working directory: src/ unless named.
const root = process.argv[2] ?? 'src';
const result = await cruise([root], {
  includeOnly: `^${root}/`,
  exclude: { path: '\\.test\\.ts$' },
  parser: 'swc',
  tsPreCompilationDeps: true,
  outputType: 'json',
});
const cruised: ICruiseResult = typeof result.output === 'string' ? JSON.parse(result.output) : result.output;

const edges = new Map<string, Map<string, string[]>>();
for (const module of cruised.modules) {
  const from = path.dirname(module.source);
  for (const dependency of module.dependencies) {
    const to = path.dirname(dependency.resolved);
    if (dependency.dependencyTypes.includes('type-only') || !dependency.resolved.startsWith(`${root}/`) || to === from) continue;
    const targets = edges.get(from) ?? new Map<string, string[]>();
    edges.set(from, targets.set(to, [...(targets.get(to) ?? []), `${module.source} → ${dependency.resolved}`]));
  }
}

// Tarjan's strongly connected components: every component of more than one folder is a cycle.
const index = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const cycles: string[][] = [];
function visit(folder: string): void {
  index.set(folder, index.size);
  low.set(folder, index.get(folder) as number);
  stack.push(folder);
  for (const next of edges.get(folder)?.keys() ?? []) {
    if (!index.has(next)) {
      visit(next);
      low.set(folder, Math.min(low.get(folder) as number, low.get(next) as number));
    } else if (stack.includes(next)) {
      low.set(folder, Math.min(low.get(folder) as number, index.get(next) as number));
    }
  }
  if (low.get(folder) === index.get(folder)) {
    const component: string[] = [];
    for (let top = stack.pop(); top !== undefined; top = top === folder ? undefined : stack.pop()) component.push(top);
    if (component.length > 1) cycles.push(component.sort());
  }
}
for (const folder of [...edges.keys()].sort()) if (!index.has(folder)) visit(folder);

if (cycles.length === 0) {
  console.log(
    `folders: no import cycles among ${new Set([...edges.keys(), ...[...edges.values()].flatMap((t) => [...t.keys()])]).size} folders of ${root}/`,
  );
} else {
  for (const cycle of cycles) {
    console.error(`folders: an import cycle joins ${cycle.join(', ')}:`);
    for (const from of cycle) {
      for (const [to, imports] of edges.get(from) ?? []) {
        if (cycle.includes(to)) for (const line of imports) console.error(`  ${line}`);
      }
    }
  }
  console.error('Move the piece both sides need into a folder below them, or hand the work over through a queue job.');
  process.exitCode = 1;
}
