// Typed view of the cpml.* settings, read in one place. A setting VS Code lets through but the
// extension cannot use (settings.json is not checked against the schema) falls back to its
// default, with a warning naming it.
import * as vscode from 'vscode';
import { BAUD_RATE } from '../core/serial/portOpener.js';
import { quoted, safeName } from '../core/text/untrustedText.js';

export interface Config {
  port: string;
  drive: string;
  extraUsbIds: string[];
  openMonitorOnConnect: boolean;
  baudRate: number;
  heapBudgetKB: number;
  samplesFolder: string;
  keepModelLoaded: boolean;
  /** One warning per setting that was invalid and replaced by its default. */
  warnings: string[];
}

/** cpml.monitor.baudRate: a whole number in BAUD_RATE's range, else the default and why. */
export function baudRateSetting(value: unknown): { baudRate: number; warning?: string } {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= BAUD_RATE.min && value <= BAUD_RATE.max) return { baudRate: value };
  const shown = typeof value === 'string' ? quoted(value, 40) : safeName(JSON.stringify(value) ?? String(value), 40);
  return {
    baudRate: BAUD_RATE.default,
    warning: `the setting cpml.monitor.baudRate must be a whole number from ${BAUD_RATE.min} to ${BAUD_RATE.max}, not ${shown}; using ${BAUD_RATE.default}`,
  };
}

export function readConfig(): Config {
  const c = vscode.workspace.getConfiguration('cpml');
  const baud = baudRateSetting(c.get<unknown>('monitor.baudRate', BAUD_RATE.default));
  return {
    port: c.get<string>('board.port', '').trim(),
    drive: c.get<string>('board.drive', '').trim(),
    extraUsbIds: c.get<string[]>('board.extraUsbIds', []),
    openMonitorOnConnect: c.get<boolean>('monitor.openOnConnect', false),
    baudRate: baud.baudRate,
    heapBudgetKB: c.get<number>('model.heapBudgetKB', 150),
    samplesFolder: c.get<string>('deploy.samplesFolder', '').trim(),
    keepModelLoaded: c.get<boolean>('deploy.keepModelLoaded', false),
    warnings: baud.warning ? [baud.warning] : [],
  };
}
