#!/usr/bin/env node
import { Command } from 'commander';
import { runMigrate, runStart, runValidate } from './commands.ts';

const program = new Command('aurum').description('Aurum: integration hub and customer data platform').showHelpAfterError();

program.command('start').description('run the hub: API and workers, per AURUM_ROLE').action(runStart);
program.command('migrate').description('apply the database migrations and exit').action(runMigrate);
program
  .command('validate')
  .description('validate connectors/ and mappings/ under AURUM_CONFIG_DIR (or --config) and compile every JSONata expression')
  .option('-c, --config <dir>', 'the workspace directory (default: AURUM_CONFIG_DIR or the current directory)')
  .action(runValidate);

await program.parseAsync();
