/**
 * The export folder in VS Code: its path per workspace folder, the image pickers' filter, and the
 * `loupe.exportDirs` context key that keeps "Explain Image" off the Explorer's context menu of exported files.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportFolderPath, isInside } from './exportFolderPath';

const SETTING = 'exportFolder';
const CONTEXT_KEY = 'loupe.exportDirs';

function setting(): unknown {
  return vscode.workspace.getConfiguration('loupe').get(SETTING);
}

/** The folder an export of `imageFile` defaults to. */
export function exportFolderFor(imageFile: string): string {
  const root = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(imageFile))?.uri.fsPath;
  return exportFolderPath(setting(), root, path.dirname(imageFile));
}

/** The export folders of every workspace folder. */
export function exportFolders(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => exportFolderPath(setting(), f.uri.fsPath, f.uri.fsPath));
}

/** True when `uri` is an export (the image pickers skip it). */
export function isExport(uri: vscode.Uri): boolean {
  return exportFolders().some((folder) => isInside(uri.fsPath, folder));
}

/** Keeps the context key the Explorer's `when` clauses read up to date. */
export function registerExportFolderContext(): vscode.Disposable {
  const update = (): void => void vscode.commands.executeCommand('setContext', CONTEXT_KEY, exportFolders());
  update();
  return vscode.Disposable.from(
    vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration(`loupe.${SETTING}`)) update(); }),
    vscode.workspace.onDidChangeWorkspaceFolders(update),
  );
}
