// The TCAV panel's page in a real browser, under the exact HTML and CSP the host builds
// (test/helpers/webviewPage.ts): rows per layer and concept from the hand-written fixture, not-significant
// rows greyed, the accuracy flag, a hostile concept name kept as text, and every posted message accepted
// by the host's guard. Needs /usr/bin/chromium (scripts/e2e/setup.sh installs it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFromTcavWebview, type ToTcavWebview } from '../src/protocol/tcavWebview';
import { computedStyle, openWebviewPage } from './helpers/webviewPage';
import { tcavFixture } from './tcavFixture';

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

test('the TCAV page under its CSP: header, one row per concept, greyed n.s. rows, flags, escaping, valid messages', { timeout: 60_000 }, async () => {
  const result = tcavFixture();
  result.layers[1]!.concepts[2]!.concept = HOSTILE;
  const web = await openWebviewPage({ entry: 'webview/tcav/main.ts', style: 'media/tcav.css', title: 'TCAV: circle' });
  const { page, posted, send } = web;
  try {
    assert.deepEqual(await posted(), [{ type: 'ready' }]);
    const show: ToTcavWebview = { type: 'show', view: { result, modelName: 'shapes' }, state: { modelPath: result.model, key: result.key } };
    await send(show);
    await page.locator('[data-testid="concept-row"]').first().waitFor();
    assert.equal(await computedStyle(page.locator('h1'), 'margin-bottom'), '6px');
    assert.match(await page.locator('[data-testid="title"]').innerText(), /TCAV for class "circle"/);
    assert.match(await page.locator('[data-testid="what"]').innerText(), /directional derivative of the class logit/);
    assert.match(await page.locator('[data-testid="significance"]').innerText(), /p < 0\.05\/6 = 0\.008 \(Bonferroni over 6/);

    const rows = await page.locator('[data-testid="concept-row"]').evaluateAll((els) => els.map((e) => ({
      layer: e.getAttribute('data-layer'), concept: e.getAttribute('data-concept'), significant: e.getAttribute('data-significant'),
      greyed: e.classList.contains('ns'),
      score: e.querySelector('[data-testid="score"]')?.textContent, p: e.querySelector('[data-testid="p-value"]')?.textContent,
      verdict: e.querySelector('[data-testid="verdict"]')?.textContent, accuracy: e.querySelector('[data-testid="accuracy"]')?.textContent,
    })));
    assert.equal(rows.length, 6);
    assert.deepEqual(rows[0], { layer: 'relu2', concept: 'circle', significant: 'true', greyed: false, score: '0.95 ± 0.05', p: 'p 4.0e-4', verdict: 'significant', accuracy: 'CAV acc. 0.97' });
    assert.deepEqual([rows[1]!.greyed, rows[1]!.verdict, rows[1]!.p], [true, 'not significant', 'p 0.61']);
    assert.equal(rows[2]!.accuracy, 'CAV acc. 0.48 ⚠');
    assert.equal(rows[5]!.concept, HOSTILE);
    assert.equal(rows[5]!.p, 'p undefined');
    // Each chart: a dot per run in both lanes (4 concept runs, 4 random runs).
    assert.equal(await page.locator('[data-testid="concept-row"]').first().locator('circle').count(), 8);
    assert.equal(await page.locator('[data-testid="random-row"]').count(), 2);
    assert.equal(await web.pwned(), undefined);

    await page.locator('[data-testid="layer-link"]', { hasText: 'relu4' }).click();
    await page.locator('[data-testid="export-png"]').click();
    await page.locator('[data-testid="recompute"]').click();
    const after = (await posted()).slice(1);
    assert.deepEqual(after, [{ type: 'openLayer', layer: 'relu4' }, { type: 'export', format: 'png' }, { type: 'recompute' }]);
    for (const m of after) assert.ok(isFromTcavWebview(m), `the host would refuse ${JSON.stringify(m)}`);
    assert.deepEqual(await web.savedState(), { modelPath: result.model, key: result.key });
    await web.assertClean();
  } finally {
    await web.close();
  }
});
