import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { loadDriveLister } from '../../core/board/driveLister.js';
import { defaultPortLister, type SerialPortLister } from '../../core/board/listPorts.js';
import { findCircuitPyDrives } from '../../core/board/findDrives.js';
import { pairBoards, type Board } from '../../core/board/pairBoards.js';
import { CpmlError, formatUserError } from '../../core/errors.js';
import { BAUD_RATE, loadSerialPort } from '../../core/serial/portOpener.js';
import { SerialSession } from '../../core/serial/serialSession.js';
import type { BoardStatus } from '../../core/serial/statusTitle.js';
import { UsageError, type CliIo } from '../cliIo.js';
import { integerOption, stringOption, type CommandSpec } from '../commandSpec.js';

/** Ctrl-], miniterm's and telnet's escape key: quits the monitor (every other key goes to the board). */
const QUIT_KEY = 0x1d;

export const monitorCommand: CommandSpec = {
  name: 'monitor',
  summary: 'show the board\'s serial console and type into it',
  usage: 'monitor [--port PORT] [--baud N] [--no-reconnect]',
  details: [
    '--port PORT      serial port of the board (/dev/ttyACM0, COM5, a pseudo-terminal); default: the one CircuitPython board attached',
    `--baud N         baud rate, ${BAUD_RATE.min} to ${BAUD_RATE.max} (default ${BAUD_RATE.default}; USB boards ignore it)`,
    '--no-reconnect   exit when the board resets or is unplugged instead of waiting for it',
    'The console text goes to stdout (control sequences removed), connection messages to stderr.',
    'In a terminal every key goes to the board (Ctrl-C stops its program, Ctrl-D reloads); Ctrl-] quits.',
    'With stdin from a pipe or file, its bytes are sent as they come; the monitor runs until interrupted.',
  ].join('\n'),
  options: { port: { type: 'string', short: 'p' }, baud: { type: 'string' }, 'no-reconnect': { type: 'boolean' } },
  async run(args, io) {
    if (args.positionals.length) throw new UsageError(`monitor takes no file arguments (did you mean --port ${args.positionals[0]}?)`);
    const baudRate = integerOption(args, 'baud', BAUD_RATE.default, BAUD_RATE.min, BAUD_RATE.max);
    const port = stringOption(args, 'port');
    const target = port ? { path: port } : await findBoardPort();
    return runMonitor({ ...target, baudRate, reconnect: !args.values['no-reconnect'] }, io);
  },
};

interface MonitorTarget {
  path: string;
  serialNumber?: string;
  findPortBySerial?: (serialNumber: string) => Promise<string | undefined>;
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, program)));
}

function portLister(): SerialPortLister {
  // serialport's list() spawns udevadm on Linux and the process dies when it is missing.
  if (process.platform === 'linux' && !existsSync('/sys/class/tty') && !onPath('udevadm')) {
    throw new CpmlError('cannot list the serial ports on this system (serialport needs udevadm, which is not installed)', 'Pass the board\'s port with --port, e.g. --port /dev/ttyACM0');
  }
  return defaultPortLister(loadSerialPort);
}

function describeBoard(board: Board): string {
  const details = [board.name, board.version ? `CircuitPython ${board.version}` : undefined, board.uid ? `UID ${board.uid}` : undefined, board.drive?.path];
  return `  ${board.port?.path ?? '(no port)'}  ${details.filter(Boolean).join(', ')}`;
}

/** The console port of the one CircuitPython board attached. */
async function findBoardPort(): Promise<MonitorTarget> {
  const lister = portLister();
  const drives = loadDriveLister();
  const mountPoints = await drives.mountPoints().catch(() => []);
  const boards = pairBoards(await lister.list(), findCircuitPyDrives(mountPoints)).filter((b) => b.port);
  const ours = boards.filter((b) => b.kind === 'circuitpython');
  if (ours.length === 1) {
    const serialNumber = ours[0].port?.serialNumber?.toUpperCase();
    return {
      path: ours[0].port!.path,
      serialNumber,
      findPortBySerial: async (sn) => pairBoards(await lister.list(), []).find((b) => b.uid === sn.toUpperCase())?.port?.path,
    };
  }
  if (ours.length > 1) {
    throw new CpmlError(`${ours.length} CircuitPython boards are attached:\n${ours.map(describeBoard).join('\n')}\n`, 'Choose one with --port');
  }
  const others = boards.filter((b) => b.kind !== 'circuitpython');
  const seen = others.length
    ? `; found only:\n${others.map((b) => `  ${b.port?.path}  ${b.name}${b.kind === 'bootloader' ? ' (install CircuitPython on it first)' : ''}`).join('\n')}\n`
    : '';
  throw new CpmlError(`no CircuitPython board found (CIRCUITPY drives looked for ${drives.description})${seen}`, 'Plug the board in, or pass its port with --port (a pseudo-terminal or a board with a custom USB identity is not found automatically)');
}

function describeStatus(status: BoardStatus): string {
  switch (status.state) {
    case 'running': return `running ${status.file ?? 'code'}`;
    case 'done': return 'program done';
    case 'stopped': return `stopped (Ctrl-C) at line ${status.line} of ${status.file}`;
    case 'error': return `${status.exception ?? 'error'} at line ${status.line} of ${status.file}`;
    case 'repl': return 'at the REPL';
    case 'safe-mode': return 'safe mode';
    default: return status.raw;
  }
}

async function runMonitor(options: MonitorTarget & { baudRate: number; reconnect: boolean }, io: CliIo): Promise<number> {
  const session = new SerialSession(options);
  const stdin = process.stdin;
  const interactive = stdin.isTTY === true;
  let connectedOnce = false;
  let inputDropped = false;
  let lastStatus = '';

  return new Promise<number>((resolve) => {
    let finished = false;
    const finish = (status: number) => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
      process.stdout.off('error', onStdoutError);
      stdin.off('data', onInput);
      if (interactive) stdin.setRawMode(false);
      stdin.destroy();
      void session.dispose().then(() => resolve(status));
    };
    const onSignal = () => finish(0);
    // The reader of stdout went away (e.g. `cpml monitor | head`).
    const onStdoutError = () => finish(0);
    const send = (bytes: Uint8Array) => {
      if (!bytes.length) return;
      // Back-pressure: no more input is read until the port has taken this (a pipe on stdin
      // faster than the board would otherwise pile up here).
      stdin.pause();
      session.write(bytes).then(
        () => { inputDropped = false; },
        (error: unknown) => {
          if (inputDropped) return;
          inputDropped = true;
          io.err(`cpml monitor: input not sent: ${error instanceof CpmlError ? formatUserError(error) : String(error)}\n`);
        },
      ).finally(() => {
        if (!finished) stdin.resume();
      });
    };
    const onInput = (chunk: Buffer) => {
      const quit = interactive ? chunk.indexOf(QUIT_KEY) : -1;
      if (quit === -1) {
        send(chunk);
        return;
      }
      send(chunk.subarray(0, quit));
      finish(0);
    };

    session.on('text', (text) => io.out(text));
    session.on('job', (phase, what) => io.err(`--- [cpml] board job${phase === 'end' ? ' finished' : ''}: ${what} ---\n`));
    session.on('status', (status) => {
      const line = describeStatus(status);
      if (line === lastStatus) return;
      lastStatus = line;
      io.err(`--- board: ${line} ---\n`);
    });
    session.on('state', (state, message) => {
      if (state === 'closed') return;
      io.err(`--- ${message} ---\n`);
      if (state === 'connected') {
        if (!connectedOnce && interactive) io.err('--- Ctrl-] quits; every other key goes to the board (Ctrl-C stops the program, Ctrl-D reloads) ---\n');
        connectedOnce = true;
      }
      if (state === 'disconnected') finish(1);
    });
    session.on('error', (error) => {
      io.err(`cpml monitor: ${formatUserError(error)}\n`);
      // Failing to open the port at all ends the command; later trouble is waited out.
      if (!connectedOnce) finish(1);
    });

    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    process.stdout.on('error', onStdoutError);
    if (interactive) stdin.setRawMode(true);
    stdin.on('data', onInput);
    // When a pipe or file on stdin ends, keep showing the console until interrupted.
    stdin.on('error', () => undefined);
    session.start();
  });
}
