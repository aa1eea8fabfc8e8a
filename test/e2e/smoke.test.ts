// End-to-end smoke test in a real VS Code (code-server 4.139.1 = VS Code 1.139.1) driven through
// Debian's Chromium: packages src/host/extension.ts as a VSIX, installs it offline, opens a folder,
// and checks a command's notification, a tree view and a webview's DOM and canvas pixels.
// Needs scripts/e2e/setup.sh; without it the test fails and says so (it is never skipped).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import { missingPrerequisite, node24, repoRoot, startCodeServer, vsceEntry, type CodeServer } from '../../scripts/e2e/codeServer';
import { notifications, openWorkbench, runCommand, screenshot, treeItems, viewPane, waitForNotification, webviewFrame, type Workbench } from '../../scripts/e2e/driver';

const SMOKE_MANIFEST = {
  name: 'loupe-smoke',
  displayName: 'Loupe (e2e smoke)',
  publisher: 'loupe-dev',
  version: '0.0.1',
  license: 'MIT',
  engines: { vscode: '^1.90.0' },
  main: './dist/extension.js',
  activationEvents: [],
  contributes: {
    commands: [
      { command: 'loupe.hello', title: 'Hello', category: 'Loupe' },
      { command: 'loupe.helloPanel', title: 'Hello Panel', category: 'Loupe' },
    ],
    views: { explorer: [{ id: 'loupe.helloTree', name: 'Loupe Hello' }] },
  },
};

async function packageSmokeExtension(dir: string): Promise<string> {
  await esbuild.build({
    entryPoints: [path.join(repoRoot, 'src/host/extension.ts')], outfile: path.join(dir, 'dist/extension.js'),
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['vscode'], logLevel: 'warning',
  });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(SMOKE_MANIFEST, null, 2));
  writeFileSync(path.join(dir, 'README.md'), '# Loupe e2e smoke extension\n');
  writeFileSync(path.join(dir, 'LICENSE'), 'MIT\n');
  const vsix = path.join(dir, 'loupe-smoke.vsix');
  // vsce 3.9 runs under Node 24 from .e2e (its newest majors need Node >= 22; this keeps one path).
  const result = spawnSync(node24, [vsceEntry, 'package', '--allow-missing-repository', '--out', vsix],
    { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `vsce package failed:\n${result.stdout}\n${result.stderr}`);
  return vsix;
}

test('smoke: a packaged extension runs in code-server and each driver helper sees its UI', { timeout: 240_000 }, async (t) => {
  const missing = missingPrerequisite();
  assert.equal(missing, null, `end-to-end prerequisites missing: ${missing}`);
  const times: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try { return await f(); } finally { times[name] = Math.round(performance.now() - start); }
  };

  const temp = mkdtempSync(path.join(os.tmpdir(), 'loupe-smoke-'));
  const workspace = path.join(temp, 'workspace');
  mkdirSync(workspace);
  writeFileSync(path.join(workspace, 'train.py'), 'layers.Conv2D(8, 3, name="conv1")\n');
  let server: CodeServer | undefined;
  let workbench: Workbench | undefined;
  try {
    const vsix = await timed('package', () => packageSmokeExtension(path.join(temp, 'ext')));
    times.vsixBytes = statSync(vsix).size;
    server = await timed('codeServerStart', () => startCodeServer(workspace, { vsix: [vsix] }));
    const { url } = server;
    workbench = await timed('workbenchOpen', () => openWorkbench(url));
    const { page } = workbench;

    const message = await timed('command', async () => {
      await runCommand(page, 'Loupe: Hello');
      return waitForNotification(page, /^Loupe: hello/);
    });
    assert.match(message, /^Loupe: hello from VS Code 1\.139\.\d+ \(activated in \d+ ms\)$/);
    assert.ok((await notifications(page)).includes(message));
    const activation = /activated in (\d+) ms/.exec(message);
    times.activationMs = Number(activation![1]);
    await screenshot(page, 'smoke-notification');

    const pane = viewPane(page, 'Loupe Hello');
    const header = pane.locator('.pane-header');
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    const items = await treeItems(page, 'Loupe Hello');
    assert.deepEqual(items.map((i) => [i.label, i.description, i.level, i.expanded]), [
      ['conv1', 'Conv2D', 1, true], ['kernel', '3×3×1×8', 2, null], ['logits', 'Dense', 1, null],
    ]);

    await runCommand(page, 'Loupe: Hello Panel');
    const frame = await webviewFrame(page);
    assert.equal(await frame.locator('#hello').innerText(), 'Hello from a webview');
    // The extension paints red = 4x on column x; read the pixels back through the webview's DOM.
    // (No DOM lib in this tsconfig: the canvas is typed structurally.)
    type Canvas2d = { getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
    const reds = await frame.locator('#ramp').evaluate((canvas) => {
      const data = (canvas as unknown as Canvas2d).getContext('2d').getImageData(0, 0, 64, 1).data;
      return [data[0], data[10 * 4], data[63 * 4]];
    });
    assert.deepEqual(reds, [0, 40, 252]);
    const shot = await screenshot(page, 'smoke-webview');
    assert.ok(statSync(shot).size > 1000);
  } catch (error) {
    if (workbench) await screenshot(workbench.page, 'smoke-failure').catch(() => undefined);
    if (server) t.diagnostic(`code-server log:\n${server.log()}`);
    throw error;
  } finally {
    await workbench?.close();
    await server?.stop();
    rmSync(temp, { recursive: true, force: true });
    t.diagnostic(`timings (ms) and VSIX size (bytes): ${JSON.stringify(times)}`);
  }
});
