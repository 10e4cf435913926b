// Runs cpml in-process and captures what it prints.
import { main } from '../../src/cli/main.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export async function cpml(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const status = await main(argv, { out: (t) => { stdout += t; }, err: (t) => { stderr += t; } });
  return { status, stdout, stderr };
}

export const EXAMPLE = 'examples/mnist';
