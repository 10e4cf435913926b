import { jsonForTerminal } from '../../core/text/untrustedText.js';
import { DEFAULT_HEAP_BUDGET_BYTES } from '../../core/analysis/memoryPlan.js';
import { findCircuitPyDrives } from '../../core/board/findDrives.js';
import { DeployError } from '../../core/deploy/deployErrors.js';
import { executeDeploy, type DeployResult, type DeployStep } from '../../core/deploy/executeDeploy.js';
import { planDeploy, type DeployPlan } from '../../core/deploy/planDeploy.js';
import { UsageError } from '../cliIo.js';
import { heapOption, stringOption, type CommandSpec } from '../commandSpec.js';
import { formatBytes, formatMs } from '../format.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export const deployCommand: CommandSpec = {
  name: 'deploy',
  summary: 'copy a model, its samples and a generated code.py to a CIRCUITPY drive',
  usage: 'deploy <model.onnx|model.bin> --drive DIR [--samples DIR] [--heap KB] [--keep-loaded] [--force] [--json]',
  details: [
    '--drive DIR     the board\'s CIRCUITPY drive (default: the only one found)',
    '--samples DIR   sample inputs: .bin files of raw float32 (+ .rgb previews, labels.txt);',
    '                default samples/ or mnist_samples/ next to the model',
    `--heap KB       heap available on the board (default ${DEFAULT_HEAP_BUDGET_BYTES / 1024}; gc.mem_free() / 1024 measured on yours)`,
    '--keep-loaded   load the model once, not for every sample (if the heap has room)',
    '--force         deploy to a folder without boot_out.txt',
    '--json          print the result as JSON',
    'Only changed files are written, each atomically; code.py last. Your own code.py is kept as',
    'code.py.bak (or .bak1, …). Exit status 1 when the model or the drive is refused: nothing is written then.',
    'Sample files that are links to outside their folder are not copied; a link on the drive where a',
    'file goes is refused. One deploy per drive at a time (it holds .cpml-deploy.lock while writing).',
  ].join('\n'),
  options: {
    drive: { type: 'string', short: 'd' },
    samples: { type: 'string', short: 's' },
    heap: { type: 'string' },
    'keep-loaded': { type: 'boolean' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('deploy takes exactly one model file');
    const heapBudgetBytes = heapOption(args, DEFAULT_HEAP_BUDGET_BYTES / 1024);
    const json = args.values.json === true;
    const drive = stringOption(args, 'drive') ?? onlyDrive();
    // Ctrl-C (or a kill, or the terminal closing): stop between files, before anything is
    // replaced, and release the drive's lock, rather than die mid-rename. Listened to from the
    // start: a signal between the plan and the first write must not kill the process either.
    let cancelled = false;
    const onInterrupt = () => {
      if (!cancelled && !json) io.err('cpml deploy: cancelling…\n');
      cancelled = true;
    };
    for (const signal of STOP_SIGNALS) process.on(signal, onInterrupt);
    let plan: DeployPlan;
    let result: DeployResult;
    try {
      plan = await planDeploy({
        model: args.positionals[0],
        drive,
        samples: stringOption(args, 'samples'),
        heapBudgetBytes,
        keepLoaded: args.values['keep-loaded'] === true,
        force: args.values.force === true,
      });
      if (!json) io.out(describePlan(plan));
      const planned = plan;
      result = await executeDeploy(planned, {
        isCancelled: () => cancelled,
        onProgress: json ? undefined : (step) => { const line = describeStep(step, planned); if (line) io.out(line); },
      });
    } finally {
      for (const signal of STOP_SIGNALS) process.off(signal, onInterrupt);
    }
    io.out(json ? jsonForTerminal(toJson(plan, result)) + '\n' : describeResult(plan, result));
    return 0;
  },
};

function onlyDrive(): string {
  const drives = findCircuitPyDrives();
  if (drives.length === 1) return drives[0].path;
  if (!drives.length) throw new DeployError('drive', 'no CIRCUITPY drive found', 'Plug in the board, or pass its drive folder with --drive DIR');
  throw new UsageError(`several CIRCUITPY drives found (${drives.map((d) => d.path).join(', ')}): pass one with --drive DIR`);
}

function describePlan(plan: DeployPlan): string {
  const m = plan.model;
  const board = plan.drive.boot ? ` (${plan.drive.boot.boardName}, CircuitPython ${plan.drive.boot.version})` : '';
  const lines = [
    `Deploying ${m.name} to ${plan.drive.path}${board}`,
    `Model: ${m.layers} layers, ${formatBytes(m.blobBytes)}${m.kind === 'onnx' ? ', converted from ONNX' : ''}`,
    `RAM:   ${formatBytes(m.memory.totalBytes)} of the ${formatBytes(m.memory.heapBudgetBytes)} heap budget (${formatBytes(m.memory.marginBytes)} to spare)`,
    `Speed: estimated ${formatMs(m.latency.inferMs)} ms per inference, ${formatMs(m.latency.loadMs)} ms to load${plan.keepLoaded ? ' (once: keep-loaded)' : ''}`,
    `Samples: ${plan.samples.files.length}${plan.samples.folder ? ` from ${plan.samples.folder}` : ''}${plan.samples.labels ? ', with labels' : ''}`,
    ...plan.warnings.map((w) => `warning: ${w}`),
    '',
  ];
  return lines.join('\n');
}

function describeStep(step: DeployStep, plan: DeployPlan): string | undefined {
  const width = 9;
  switch (step.action) {
    case 'skip': return `  ${'unchanged'.padEnd(width)} ${step.file}\n`;
    case 'rename': {
      const f = plan.files.find((p) => p.path === step.file);
      return `  ${(f?.existingBytes === undefined ? 'new' : 'updated').padEnd(width)} ${step.file}${f ? ` (${formatBytes(f.data.length)})` : ''}\n`;
    }
    case 'backup': return `  ${'backed up'.padEnd(width)} your code.py as ${step.file}\n`;
    default: return undefined; // 'write': the temporary is in place; reported when renamed
  }
}

function describeResult(plan: DeployPlan, r: DeployResult): string {
  const lines = [''];
  if (r.backup && !r.backupCreated) lines.push(`Your previous code.py was already kept as ${r.backup}.`);
  const changed = r.written.length;
  lines.push(changed
    ? `Done in ${formatMs(r.durationMs)} ms: ${changed} file${changed > 1 ? 's' : ''} written, ${r.skipped.length} unchanged${r.backupCreated ? `, your code.py kept as ${r.backup}` : ''}. The board reloads and runs code.py.`
    : `Nothing to do: the drive already has this model, its ${plan.samples.files.length} samples and code.py (${r.skipped.length} files unchanged).`);
  return lines.join('\n') + '\n';
}

function toJson(plan: DeployPlan, r: DeployResult) {
  return {
    drive: r.drive,
    board: plan.drive.boot,
    written: r.written,
    skipped: r.skipped,
    backup: r.backup,
    backupCreated: r.backupCreated,
    keepLoaded: r.keepLoaded,
    strategy: r.strategy,
    samples: plan.samples.files,
    labels: plan.samples.labels,
    model: {
      source: r.model.source, kind: r.model.kind, name: r.model.name, blobBytes: r.model.blobBytes, layers: r.model.layers,
      inputElements: r.model.inputElements, outputElements: r.model.outputElements,
      memory: r.model.memory, latency: r.model.latency,
    },
    warnings: r.warnings,
    durationMs: Math.round(r.durationMs),
  };
}
