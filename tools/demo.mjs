#!/usr/bin/env node
// `npm run demo`: the model toolchain on the bundled example, through the cpml CLI —
// convert, inspect, validate against the ONNX graph, and predict the 20 samples on the host
// engine (the firmware's exact arithmetic) with the accuracy against the labels.
// (The full main job on a virtual Pico comes with `cpml demo`.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const example = 'examples/mnist';
const samples = join(example, 'mnist_samples');
const out = join(mkdtempSync(join(tmpdir(), 'cpml-demo-')), 'model.bin');

function cpml(...args) {
  process.stdout.write(`\n$ cpml ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) process.exit(r.status ?? 1);
  return r.stdout;
}

cpml('convert', join(example, 'model.onnx'), '-o', out);
cpml('inspect', out);
const files = readdirSync(samples).filter((f) => /^sample_\d+\.bin$/.test(f)).sort();
cpml('validate', join(example, 'model.onnx'), ...files.flatMap((f) => ['--input', join(samples, f)]));

const labels = readFileSync(join(samples, 'labels.txt'), 'utf8').trim().split(/\s+/).map(Number);
const runs = JSON.parse(
  spawnSync(process.execPath, ['dist/cli.js', 'run', out, '--json', ...files.flatMap((f) => ['--input', join(samples, f)])], { encoding: 'utf8' }).stdout,
);
process.stdout.write(`\n$ cpml run ${out} --json --input … (20 samples)\n`);
let correct = 0;
runs.forEach((r, i) => {
  const exp = r.outputs.map((v) => Math.exp(v - Math.max(...r.outputs)));
  const confidence = (100 * exp[r.argmax]) / exp.reduce((a, b) => a + b, 0);
  const ok = r.argmax === labels[i];
  if (ok) correct++;
  process.stdout.write(`File: ${files[i]} -> Pred: ${r.argmax} (${confidence.toFixed(1)}%)${ok ? '' : `   ✗ label ${labels[i]}`}\n`);
});
process.stdout.write(`\nAccuracy: ${correct}/${runs.length} against labels.txt\n`);
