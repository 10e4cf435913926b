// cpml demo: the main job end to end without hardware. Converts the bundled example model,
// deploys it with its 20 samples to a virtual Pico (the deploy core, as `cpml deploy` does),
// reads the board's console through its serial port with the monitor's own session (the same
// decoding path), and ends with the timing table and the accuracy against labels.txt.
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { statistics } from '../../core/timing/statistics.js';
import { TimingRecorder } from '../../core/timing/timingRecorder.js';
import type { Run } from '../../core/timing/run.js';
import { executeDeploy } from '../../core/deploy/executeDeploy.js';
import { planDeploy, type DeployPlan } from '../../core/deploy/planDeploy.js';
import { CpmlError } from '../../core/errors.js';
import { SerialSession } from '../../core/serial/serialSession.js';
import { PtyUnavailableError } from '../../sim/ptyRelay.js';
import { VirtualPico } from '../../sim/virtualPico.js';
import type { CliIo } from '../cliIo.js';
import { UsageError } from '../cliIo.js';
import type { CommandSpec } from '../commandSpec.js';
import { formatBytes, formatMs, formatTable } from '../format.js';

const EXAMPLE = join('examples', 'mnist');
/** The run normally takes a few seconds; this is for a board that never finishes. */
const RUN_TIMEOUT_MS = 60_000;

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'run the example model on a virtual Pico: deploy, watch its console, time it',
  usage: 'demo',
  details: [
    'Converts the bundled MNIST example (examples/mnist), deploys it with its 20 samples to a',
    'virtual Pico in a temporary folder, shows the board\'s console as it runs, then prints the',
    'per-sample timings (simulated: the RP2040 estimate) and the accuracy against labels.txt.',
    'Nothing is left behind. Needs no board; socat or python3 gives it a real serial port.',
  ].join('\n'),
  options: {},
  async run(args, io) {
    if (args.positionals.length) throw new UsageError('demo takes no arguments');
    return runDemo(io);
  },
};

/** examples/mnist of this installation: next to the bundle's package, or the sources'. */
function findExample(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, EXAMPLE);
    if (existsSync(join(candidate, 'model.onnx'))) return candidate;
  }
  throw new CpmlError(`the bundled example (${EXAMPLE}/model.onnx) is missing from this installation`, 'Reinstall cpml');
}

async function runDemo(io: CliIo): Promise<number> {
  const example = findExample();
  const model = join(example, 'model.onnx');
  const samples = join(example, 'mnist_samples');
  io.out('CircuitPython ML demo: the example MNIST model on a virtual Raspberry Pi Pico\n');
  io.out(`Example: ${relativeOrAbsolute(example)} (model and samples from code2k13/cp-cnn-extension, Apache-2.0; see its README.md)\n\n`);

  let pico = new VirtualPico();
  let info;
  try {
    info = await pico.start();
  } catch (error) {
    if (!(error instanceof PtyUnavailableError)) throw error;
    io.out(`No pseudo-terminal (${error.message}): reading the console in-process instead.\n`);
    pico = new VirtualPico({ pty: false });
    info = await pico.start();
  }
  const session = info.port
    ? new SerialSession({ path: info.port, reconnect: false })
    : new SerialSession({ path: 'virtual Pico', openPort: pico.openPort, reconnect: false });
  try {
    io.out(`Virtual Pico: CircuitPython 9.2.1, drive ${info.drive}, ${info.port ? `serial port ${info.port} (${info.relay})` : 'console in-process'}\n`);
    await connect(session);

    const plan = await planDeploy({ model, drive: info.drive, samples });
    io.out(describePlan(plan));
    const recorder = new TimingRecorder();
    const finished = watchConsole(session, recorder, io);
    const result = await executeDeploy(plan);
    io.out(`Deployed ${result.written.length} files (code.py last); the board reloads 500 ms after the last write.\n\n`);
    io.out('--- the virtual Pico\'s console ---\n');
    await finished;
    io.out('--- end of console ---\n\n');

    const run = [...recorder.runs].reverse().find((r) => r.samples.length > 0);
    if (!run) throw new CpmlError('the virtual Pico ran code.py but printed no predictions', 'See its console output above');
    io.out(timingTable(run, plan));
    const accuracy = scoreRun(run, plan);
    io.out(`\nAccuracy: ${accuracy.correct}/${accuracy.labelled} against labels.txt${accuracy.wrong.length ? ` (wrong: ${accuracy.wrong.join(', ')})` : ''}\n`);
    return run.samples.length === plan.samples.files.length ? 0 : 1;
  } finally {
    await session.dispose();
    await pico.dispose();
  }
}

function relativeOrAbsolute(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function connect(session: SerialSession): Promise<void> {
  return new Promise((resolve, reject) => {
    session.on('state', (state) => {
      if (state === 'connected') resolve();
      else if (state === 'disconnected') reject(new CpmlError(`could not open the virtual Pico's serial port ${session.path}`));
    });
    session.on('error', (error) => reject(error));
    session.start();
  });
}

function describePlan(plan: DeployPlan): string {
  const m = plan.model;
  return [
    `Model: ${basename(m.source)} → ${m.name}: ${m.layers} layers, ${formatBytes(m.blobBytes)}, ${formatBytes(m.memory.totalBytes)} of the ${formatBytes(m.memory.heapBudgetBytes)} heap`,
    `Estimate on an RP2040: ${formatMs(m.latency.inferMs)} ms per inference, ${formatMs(m.latency.loadMs)} ms to load`,
    `Samples: ${plan.samples.files.length}${plan.samples.labels ? ', with labels' : ''}`,
    '',
  ].join('\n');
}

/** Streams the console (without the machine-readable lines) until the program has run and ended. */
function watchConsole(session: SerialSession, recorder: TimingRecorder, io: CliIo): Promise<void> {
  return new Promise((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => reject(new CpmlError(`the virtual Pico did not finish running code.py within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
    session.on('line', (line) => {
      recorder.push(line);
      if (!line.startsWith('CPML-')) io.out(`${line}\n`);
      if (/^code\.py output:$/.test(line.trim())) started = true;
      if (started && line.trim() === 'Code done running.') {
        clearTimeout(timer);
        resolve();
      }
    });
    session.on('state', (state, message) => {
      if (state === 'disconnected') {
        clearTimeout(timer);
        reject(new CpmlError(`lost the virtual Pico's console: ${message}`));
      }
    });
  });
}

const ms = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(3));

function timingTable(run: Run, plan: DeployPlan): string {
  const labels = plan.samples.labels;
  const rows = run.samples.map((s) => {
    const label = labels?.[s.index]?.trim();
    const mark = s.pred === undefined || label === undefined ? '' : String(s.pred) === label ? '✓' : '✗';
    return [String(s.index), s.file ? basename(s.file) : '', s.pred === undefined ? (s.error ?? '-') : String(s.pred), label ?? '', mark, ms(s.loadMs), ms(s.inferMs)];
  });
  const infer = statistics(run.samples.flatMap((s) => (s.inferMs === undefined ? [] : [s.inferMs])));
  const estimate = plan.model.latency;
  return [
    'Timings on the virtual Pico (simulated: the RP2040 latency model\'s estimate, not a measurement):',
    formatTable(['#', 'sample', 'pred', 'label', '', 'load ms', 'infer ms'], rows, 'rlrrlrr').trimEnd(),
    '',
    formatTable(
      ['infer ms', 'n', 'min', 'median', 'mean', 'p95', 'max', 'host estimate'],
      [['', String(infer.n), ms(infer.min), ms(infer.median), ms(infer.mean), ms(infer.p95), ms(infer.max), ms(estimate.inferMs)]],
      'lrrrrrrr',
    ).trimEnd(),
    `load ms: host estimate ${ms(estimate.loadMs)}`,
    '',
  ].join('\n');
}

function scoreRun(run: Run, plan: DeployPlan): { correct: number; labelled: number; wrong: string[] } {
  const labels = plan.samples.labels ?? [];
  let correct = 0;
  let labelled = 0;
  const wrong: string[] = [];
  for (const s of run.samples) {
    const label = labels[s.index]?.trim();
    if (label === undefined || label === '') continue;
    labelled++;
    if (s.pred !== undefined && String(s.pred) === label) correct++;
    else wrong.push(`${s.file ? basename(s.file) : `#${s.index}`} is ${label}, predicted ${s.pred ?? 'nothing'}`);
  }
  return { correct, labelled, wrong };
}
