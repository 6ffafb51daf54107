#!/usr/bin/env node
import { Command } from 'commander';

// Each command loads its own modules when it runs: the batch commands need none of the hub's
// (HTTP server, queue, database drivers), and loading them all costs most of a second.
const commands = () => import('./commands.ts');

const program = new Command('aurum').description('Aurum: integration hub and customer data platform').showHelpAfterError();

program
  .command('start')
  .description('run the hub: API and workers, per AURUM_ROLE')
  .action(async () => (await commands()).runStart());
program
  .command('migrate')
  .description('apply the database migrations and exit')
  .action(async () => (await commands()).runMigrate());
program
  .command('train')
  .description('train the live identity model on the records stored in the database and put it in force')
  .action(async () => (await commands()).runTrain());
program
  .command('validate')
  .description('validate connectors/ and mappings/ under AURUM_CONFIG_DIR (or --config) and compile every JSONata expression')
  .option('-c, --config <dir>', 'the workspace directory (default: AURUM_CONFIG_DIR or the current directory)')
  .action(async (options) => (await commands()).runValidate(options));

program
  .command('resolve')
  .description('map and resolve records in batch, without a server: writes source,record_id,profile_id')
  .requiredOption('-c, --config <dir>', 'workspace with connectors/, mappings/ and optionally identity.yaml')
  .requiredOption('-i, --input <SOURCE=FILE...>', 'CSV (header row) or NDJSON records of a source; repeatable')
  .requiredOption('-o, --out <file>', 'clusters CSV to write')
  .option('--explain <file>', 'where to write the scored links (default: <out>.links.ndjson)')
  .option('--blocks <file>', 'where to write the blocks that proposed pairs, for evaluate (default: <out>.blocks.ndjson)')
  .option('--threads <n>', 'worker threads that map and compare (default: the cores available)')
  .option('--no-progress', 'no progress bar')
  .action(async (options) => (await import('./resolve.ts')).runResolve(options));
program
  .command('import')
  .description('stream a CSV or NDJSON file to a running hub (POST /sources/:source/import), with a progress bar')
  .argument('<file>', 'CSV (header row) or NDJSON')
  .requiredOption('-s, --source <source>', 'the source the records come from')
  .option('--url <url>', 'the hub (default: AURUM_URL or http://localhost:$PORT)')
  .option('--key <token>', 'an API key (default: AURUM_API_KEY)')
  .option('--format <format>', 'csv or ndjson (default: from the file name)')
  .option('--no-wait', 'return once uploaded, without waiting for the pipeline')
  .option('--no-progress', 'no progress bar')
  .action(async (file, options) => (await import('./import.ts')).runImport(file, options));
program
  .command('rebuild')
  .description(
    'derive the record keys and golden records again, and map again the records an older mapping made, on a running hub (POST /rebuilds), with a progress bar',
  )
  .option('--kind <kind...>', 'keys, golden, mappings and/or links (default: keys, golden and mappings)')
  .option('--reason <text>', 'why, for GET /rebuilds')
  .option('--wait', 'wait until every rebuild is done')
  .option('--no-progress', 'no progress bar')
  .option('--url <url>', 'the hub (default: AURUM_URL or http://localhost:$PORT)')
  .option('--key <token>', 'an API key (default: AURUM_API_KEY)')
  .action(async (options) => (await import('./rebuild.ts')).runRebuildCommand(options));
program
  .command('evaluate')
  .description('pairwise precision, recall and F1 of clusters against a truth file, with the worst errors explained')
  .requiredOption('--clusters <file>', 'source,record_id,profile_id (from resolve)')
  .requiredOption('--truth <file>', 'source,record_id,entity_id')
  .option('--explain <file>', 'scored links (default: <clusters>.links.ndjson when it exists)')
  .option('--blocks <file>', 'the blocks resolve wrote (default: <clusters>.blocks.ndjson when it exists)')
  .option('--worst <n>', 'how many false merges and misses to show', '10')
  .action(async (options) => (await import('./evaluate.ts')).runEvaluate(options));

const keys = program.command('keys').description('API keys: stored hashed, each with a role (reader, ops, compliance, admin)');
keys
  .command('create')
  .description('make a key and print its token once, on stdout')
  .requiredOption('-r, --role <role>', 'reader, ops, compliance or admin')
  .requiredOption('-n, --name <name>', 'who or what holds it: the audit log names it')
  .option('--reason <text>', 'why, for the audit log')
  .action(async (options) => (await import('./keys.ts')).runKeysCreate(options));
keys
  .command('list')
  .description('list the live keys (not their tokens)')
  .option('--revoked', 'include revoked keys')
  .action(async (options) => (await import('./keys.ts')).runKeysList(options));
keys
  .command('revoke')
  .description('revoke a key by name: its token stops working at once')
  .argument('<name>', 'the key name')
  .option('--reason <text>', 'why, for the audit log')
  .action(async (name, options) => (await import('./keys.ts')).runKeysRevoke(name, options));

try {
  await program.parseAsync();
} catch (error) {
  // Expected failures (a bad file, a refused request) are one line; the stack helps no operator.
  process.stderr.write(`aurum: ${(error as Error).message}\n`);
  process.exit(1);
}
