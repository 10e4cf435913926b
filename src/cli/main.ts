// cpml: the command line. Parses argv, runs one command, turns errors into one paragraph on
// stderr and an exit status (0 ok, 1 the model or a file was refused, 2 usage, 70 internal bug).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CpmlError, formatUserError } from '../core/errors.js';
import { escapeControlsInMessage, quoted } from '../core/text/untrustedText.js';
import { UsageError, type CliIo } from './cliIo.js';
import type { CommandSpec } from './commandSpec.js';
import { convertCommand } from './commands/convertCommand.js';
import { deployCommand } from './commands/deployCommand.js';
import { demoCommand } from './commands/demoCommand.js';
import { inspectCommand } from './commands/inspectCommand.js';
import { monitorCommand } from './commands/monitorCommand.js';
import { runCommand } from './commands/runCommand.js';
import { simCommand } from './commands/simCommand.js';
import { validateCommand } from './commands/validateCommand.js';

export const COMMANDS: CommandSpec[] = [convertCommand, inspectCommand, validateCommand, runCommand, deployCommand, monitorCommand, simCommand, demoCommand];

export const EXIT = { ok: 0, refused: 1, usage: 2, bug: 70 } as const;

declare const CPML_VERSION: string | undefined;

export function cliVersion(): string {
  if (typeof CPML_VERSION === 'string') return CPML_VERSION;
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'cpml — convert, check and run neural networks for CircuitPython\'s cnn_helper on a Raspberry Pi Pico',
    '',
    'Usage: cpml <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show help (also: cpml <command> --help)',
    '  -V, --version  show the version',
    '',
  ].join('\n');
}

function commandHelp(c: CommandSpec): string {
  const details = c.details.split('\n').map((l) => `  ${l}`).join('\n');
  return `Usage: cpml ${c.usage}\n\n${c.summary[0].toUpperCase()}${c.summary.slice(1)}.\n\nOptions:\n${details}\n  -h, --help     show this help\n`;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    if (name === undefined) {
      io.err(mainHelp());
      return EXIT.usage;
    }
    io.out(topic ? commandHelp(topic) : mainHelp());
    return EXIT.ok;
  }
  if (name === '-V' || name === '--version') {
    io.out(`cpml ${cliVersion()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const near = COMMANDS.find((c) => c.name.startsWith(name.slice(0, 2)));
    io.err(`cpml: unknown command ${quoted(name)}${near ? ` (did you mean '${near.name}'?)` : ''}\nRun 'cpml --help' for the list of commands.\n`);
    return EXIT.usage;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out(commandHelp(command));
    return EXIT.ok;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    return await command.run({ values, positionals }, io);
  } catch (error) {
    return report(error, command, io);
  }
}

function report(error: unknown, command: CommandSpec, io: CliIo): number {
  if (error instanceof UsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
    io.err(`cpml ${command.name}: ${escapeControlsInMessage((error as Error).message)}\nUsage: cpml ${command.usage}\n`);
    return EXIT.usage;
  }
  if (error instanceof CpmlError) {
    io.err(`cpml ${command.name}: ${formatUserError(error)}\n`);
    return EXIT.refused;
  }
  const detail = error instanceof Error ? error.stack ?? error.message : String(error);
  io.err(`cpml ${command.name}: internal error — this is a bug in cpml, please report it with the model that caused it.\n${detail}\n`);
  return EXIT.bug;
}
