// Which model a command is about: the explorer selection (the command's argument), the active
// editor (text or model view), or a quick pick of the workspace's models.
import * as vscode from 'vscode';

const MODEL_GLOB = '**/*.{onnx,bin}';
const EXCLUDE = '{**/node_modules/**,**/.git/**,**/dist/**}';

function isModel(uri: vscode.Uri | undefined, onnxOnly: boolean): uri is vscode.Uri {
  return Boolean(uri && (onnxOnly ? /\.onnx$/i : /\.(onnx|bin)$/i).test(uri.path));
}

function activeModelUri(): vscode.Uri | undefined {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (tab instanceof vscode.TabInputCustom || tab instanceof vscode.TabInputText) return tab.uri;
  return vscode.window.activeTextEditor?.document.uri;
}

export async function pickModel(arg: unknown, options: { onnxOnly?: boolean; title: string }): Promise<vscode.Uri | undefined> {
  const onnxOnly = options.onnxOnly ?? false;
  if (arg instanceof vscode.Uri && isModel(arg, onnxOnly)) return arg;
  const active = activeModelUri();
  if (isModel(active, onnxOnly)) return active;
  const found = (await vscode.workspace.findFiles(onnxOnly ? '**/*.onnx' : MODEL_GLOB, EXCLUDE, 500))
    .filter((u) => !/sample_\d+\.bin$|[\\/](samples|mnist_samples)[\\/]/i.test(u.path));
  if (found.length === 0) {
    const picked = await vscode.window.showOpenDialog({
      title: options.title, canSelectMany: false,
      filters: onnxOnly ? { 'ONNX models': ['onnx'] } : { 'Models': ['onnx', 'bin'] },
    });
    return picked?.[0];
  }
  if (found.length === 1) return found[0];
  const items = found
    .sort((a, b) => a.path.localeCompare(b.path))
    .map((uri) => ({ label: vscode.workspace.asRelativePath(uri), description: /\.onnx$/i.test(uri.path) ? 'ONNX' : 'blob', uri }));
  const choice = await vscode.window.showQuickPick(items, { title: options.title, placeHolder: 'Choose a model' });
  return choice?.uri;
}
