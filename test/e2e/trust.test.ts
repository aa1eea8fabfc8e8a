// End-to-end (issue 13): a malformed `loupe.preprocessing` setting is refused with an error notification
// naming the key, in a real VS Code (code-server + Chromium) — not only a line in the log. The oracle is
// the setting's text written by this test: the notification must name the model key and both bad keys.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { missingPrerequisite, repoRoot, startCodeServer, type CodeServer } from '../../scripts/e2e/codeServer';
import { openWorkbench, screenshot, showContainer, waitForNotification, type Workbench } from '../../scripts/e2e/driver';
import { packageExtension } from '../../scripts/package';

describe('refused settings in a real VS Code', { timeout: 8 * 60_000 }, () => {
  let temp: string;
  let server: CodeServer | undefined;
  let workbench: Workbench | undefined;

  before(async () => {
    const missing = missingPrerequisite();
    assert.equal(missing, null, `end-to-end prerequisites missing: ${missing}`);
    temp = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-trust-'));
    const vsix = packageExtension({ out: path.join(temp, 'loupe.vsix') });
    const workspace = path.join(temp, 'demo');
    cpSync(path.join(repoRoot, 'demo'), workspace, { recursive: true });
    server = await startCodeServer(workspace, {
      vsix: [vsix.vsix],
      settings: {
        'typescript.validate.enable': false,
        'loupe.preprocessing': { 'shapes/model/model.json': { std: [0], colour: 'rgb' } },
      },
    });
    workbench = await openWorkbench(server.url, { width: 1280, height: 800, timeoutMs: 30_000 });
  });

  after(async () => {
    await workbench?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    if (temp) rmSync(temp, { recursive: true, force: true });
  });

  it('an error notification names the model key and each malformed key', async () => {
    const page = workbench!.page;
    try {
      await showContainer(page, 'Loupe'); // activates the extension
      const text = await waitForNotification(page, /loupe\.preprocessing/, 60_000);
      assert.match(text, /loupe\.preprocessing\["shapes\/model\/model\.json"\]\.std: expected a list of positive numbers, got \[0\]/);
      assert.match(text, /loupe\.preprocessing\["shapes\/model\/model\.json"\]\.colour: unknown key/);
      await screenshot(page, 'trust-refused-setting');
    } catch (error) {
      await screenshot(page, 'failure-trust-setting', 0).catch(() => undefined);
      console.error(`[e2e trust] code-server log (tail):\n${server?.log().slice(-2000)}`);
      throw error;
    }
  });
});
