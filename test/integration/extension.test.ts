/// <reference types="mocha" />
// Runs inside a real VS Code via @vscode/test-cli (`npm run test:integration`), with demo/ open.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

suite('Loupe in VS Code', () => {
  test('activates and contributes its commands', async () => {
    const extension = vscode.extensions.getExtension('loupe-dev.loupe');
    assert.ok(extension, 'the Loupe extension is installed');
    await extension.activate();
    const commands = await vscode.commands.getCommands(true);
    for (const id of ['loupe.explainImage', 'loupe.selectModel', 'loupe.gradcamAtLayer', 'loupe.goToLayerDefinition']) {
      assert.ok(commands.includes(id), id);
    }
  });

  test('explains a demo image without an error notification', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'demo/ is open');
    const image = vscode.Uri.joinPath(folder.uri, 'images', 'shape-1-cross.png');
    await vscode.commands.executeCommand('loupe.explainImage', image);
  });
});
