import { resolve } from 'node:path';
import { DEFAULT_HEAP_BUDGET_BYTES } from '../../core/analysis/memoryPlan.js';
import { DEFAULT_MAX_MACS } from '../../core/engine/computeBudget.js';
import { formatUserError, type CpmlError } from '../../core/errors.js';
import { VirtualPico } from '../../sim/virtualPico.js';
import { UsageError } from '../cliIo.js';
import { heapOption, integerOption, stringOption, type CommandSpec } from '../commandSpec.js';

export const simCommand: CommandSpec = {
  name: 'sim',
  summary: 'start a virtual Pico: real MicroPython behind a serial port and a drive folder',
  usage: 'sim [--drive DIR] [--heap KB] [--link PATH] [--max-macs N]',
  details: [
    '--drive DIR    folder that plays the CIRCUITPY drive: empty, a drive (has boot_out.txt) or a CircuitPython',
    '               project (has code.py); never a system or home folder (default: a new temporary folder)',
    `--heap KB      heap for programs, what gc.mem_free() reports (default ${DEFAULT_HEAP_BUDGET_BYTES / 1024})`,
    `--max-macs N   largest model cnn_helper runs, in MACs per inference (default ${DEFAULT_MAX_MACS}: minutes on a board)`,
    '--link PATH    where the serial port (a pseudo-terminal link) appears; must not exist yet (default: ttyPICO',
    '               in a new temporary folder)',
    'Prints "Virtual Pico running: port P, drive D" and runs until Ctrl-C or SIGTERM. Open the console',
    'with cpml monitor --port P; deploy to it with cpml deploy <model> --drive D. It runs code.py on',
    'real MicroPython with cnn_helper on the host engine and reloads 500 ms after files change; the',
    'timings it reports are simulated (the RP2040 estimate). Needs socat or python3 for the port.',
    'Programs run sandboxed: they see only the drive (a copy of it), MicroPython has no bridge to',
    'JavaScript, and its process may not write files or start processes (Node\'s permission model).',
  ].join('\n'),
  options: { drive: { type: 'string', short: 'd' }, heap: { type: 'string' }, link: { type: 'string' }, 'max-macs': { type: 'string' } },
  async run(args, io) {
    if (args.positionals.length) throw new UsageError(`sim takes no file arguments (did you mean --drive ${args.positionals[0]}?)`);
    const heapBytes = heapOption(args, DEFAULT_HEAP_BUDGET_BYTES / 1024);
    const heapKb = heapBytes / 1024;
    const drive = stringOption(args, 'drive');
    const link = stringOption(args, 'link');
    const maxMacs = integerOption(args, 'max-macs', DEFAULT_MAX_MACS, 1, Number.MAX_SAFE_INTEGER);
    const pico = new VirtualPico({ drive: drive && resolve(drive), heapBytes, portLink: link && resolve(link), maxMacs });
    pico.on('error', (error: CpmlError) => io.err(`cpml sim: ${formatUserError(error)}\n`));
    const info = await pico.start();
    io.out(`Virtual Pico running: port ${info.port}, drive ${info.drive}\n`);
    io.err(`--- CircuitPython 9.2.1 on a virtual Raspberry Pi Pico (MicroPython 1.27, ${heapKb} KB heap, UID ${info.uid}); timings are simulated ---\n`);
    io.err(`--- console: cpml monitor --port ${info.port}   stop: Ctrl-C ---\n`);
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        process.off('SIGHUP', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      process.on('SIGHUP', stop);
    });
    await pico.dispose();
    io.err('--- virtual Pico stopped ---\n');
    return 0;
  },
};
