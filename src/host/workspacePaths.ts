import * as path from 'node:path';
import * as vscode from 'vscode';

/**
 * Resolves a path from a setting (a dataset, a `loupe.preprocessing` key) against the workspace folder
 * holding `modelPath`, else the first folder: the worker has no workspace.
 */
export function resolveInWorkspace(modelPath: string): (p: string) => string {
  return (p) => {
    if (path.isAbsolute(p)) return p;
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(modelPath)) ?? vscode.workspace.workspaceFolders?.[0];
    return folder ? path.join(folder.uri.fsPath, p) : path.resolve(p);
  };
}
