/**
 * A PyTorch checkpoint clicked in the Models view: an untitled Python editor with a ready-to-run
 * torch.onnx.export snippet for it (codeIndex/exportSnippet.ts). Loupe never runs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { modelFileKind } from '../../protocol/formats';
import { checkpointSnippet } from '../codeIndex/exportSnippet';
import { MAX_INDEXED_BYTES } from '../codeIndex';
import type { WorkspaceIndexer } from '../codeLinks/indexer';
import type { ModelStore } from './modelStore';

export async function openExportSnippet(checkpoint: vscode.Uri, indexer: WorkspaceIndexer, models: ModelStore, log: vscode.LogOutputChannel): Promise<void> {
  await indexer.whenReady();
  const root = vscode.workspace.getWorkspaceFolder(checkpoint)?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const knownInput = await besideInput(checkpoint, models);
  const snippet = checkpointSnippet({
    checkpoint: checkpoint.fsPath,
    ...(root ? { workspaceRoot: root } : {}),
    ...(knownInput ? { knownInput } : {}),
    index: indexer.index,
    text: (file) => sourceText(file),
  });
  log.info(`export snippet for ${checkpoint.fsPath}: ${snippet.writer ? `from ${snippet.writer.file}:${snippet.writer.line + 1}` : 'no script saves it (placeholder)'}`
    + `, model ${snippet.model ? `${snippet.model.kind} ${snippet.model.name}` : 'unknown'}, input ${snippet.input.channels}×${snippet.input.height}×${snippet.input.width}`);
  const doc = await vscode.workspace.openTextDocument({ language: 'python', content: snippet.text });
  await vscode.window.showTextDocument(doc, { preview: false });
}

/** The input size of an ONNX model beside the checkpoint (an earlier export of it), when Loupe can describe it. */
async function besideInput(checkpoint: vscode.Uri, models: ModelStore): Promise<{ channels: number; height: number; width: number; from: string } | undefined> {
  const dir = path.dirname(checkpoint.fsPath);
  const beside = models.list().filter((m) => path.dirname(m.fsPath) === dir && modelFileKind(m.fsPath) === 'onnx');
  for (const m of beside) {
    const d = models.known(m) ?? (await models.describe(m).catch(() => undefined));
    if (!d) continue;
    const [height, width, channels] = d.inputShape;
    return { channels, height, width, from: `the input of ${path.basename(m.fsPath)} beside it (as Loupe reads it)` };
  }
  return undefined;
}

/** The text the editor holds for the file (saved or not), else the file on disk. */
function sourceText(file: string): string | undefined {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
  if (open) return open.getText();
  try {
    return fs.statSync(file).size <= MAX_INDEXED_BYTES ? fs.readFileSync(file, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}
