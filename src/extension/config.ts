// Typed view of the cpml.* settings, read in one place.
import * as vscode from 'vscode';

export interface Config {
  port: string;
  drive: string;
  extraUsbIds: string[];
  openMonitorOnConnect: boolean;
  baudRate: number;
  heapBudgetKB: number;
  samplesFolder: string;
  keepModelLoaded: boolean;
}

export function readConfig(): Config {
  const c = vscode.workspace.getConfiguration('cpml');
  return {
    port: c.get<string>('board.port', '').trim(),
    drive: c.get<string>('board.drive', '').trim(),
    extraUsbIds: c.get<string[]>('board.extraUsbIds', []),
    openMonitorOnConnect: c.get<boolean>('monitor.openOnConnect', false),
    baudRate: c.get<number>('monitor.baudRate', 115200),
    heapBudgetKB: c.get<number>('model.heapBudgetKB', 150),
    samplesFolder: c.get<string>('deploy.samplesFolder', '').trim(),
    keepModelLoaded: c.get<boolean>('deploy.keepModelLoaded', false),
  };
}
