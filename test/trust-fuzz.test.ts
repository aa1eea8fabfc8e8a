/**
 * Issue 13, part 4: a 1,000-case slice of `npm run fuzz` (seeded, so every run tries the same cases):
 * mutated model.json files (fields, shapes, graph edges), weight shards, sidecars, PNG/JPEG bytes,
 * FIFOs, devices, folders and symlinks in place of files, absurd worker requests and panel messages, run through the
 * worker's request handlers in-process, the real worker process and the real CLI. None may crash, hang,
 * go over the memory budget, return NaN maps, or fail without naming what was wrong.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { formatReport, runFuzz } from '../scripts/fuzz/harness';
import { CLI_JS, WORKER_JS } from './workerFixtures';

test('1,000 fuzz cases: 0 crashes, 0 hangs, 0 over budget, 0 NaN maps, every error names its file or parameter', { timeout: 600_000 }, async () => {
  assert.ok(fs.existsSync(CLI_JS) && fs.existsSync(WORKER_JS), 'dist/cli.js and dist/worker.js exist: run `node esbuild.mjs` first');
  // Fewer CLI cases than `npm run fuzz` runs: each starts a process (about a second).
  const report = await runFuzz({ cases: 1000, seed: 13, timeLimitMs: 480_000, weights: { cli: 0.6 } });
  const table = formatReport(report);
  console.log(table);
  assert.equal(report.cases, 1000, table);
  for (const outcome of ['crash', 'hang', 'over-budget', 'nan', 'unnamed'] as const) assert.equal(report.counts[outcome], 0, `${outcome}:\n${table}`);
  // The slice must reach past the door: some cases load and explain, many are refused.
  assert.ok(report.counts.success >= 100 && report.counts.clean >= 300, table);
  for (const family of ['layers-json', 'graph-json', 'manifest', 'shard', 'sidecar', 'png', 'jpeg', 'special', 'options', 'worker', 'cli', 'webview', 'onnx']) {
    assert.ok(report.byFamily[family], `family ${family} was exercised`);
  }
});

// Found by a 10,000-case run (seed 4242): damaged bytes in an ONNX export that still parse, whose constants
// then failed TF.js's concat while folding — an internal error. Now a refusal naming the file.
test('fuzz case 4242/5449 (a damaged torch.onnx.export file): a clean refusal naming the file', { timeout: 120_000 }, async () => {
  const report = await runFuzz({ cases: 5450, seed: 4242, timeLimitMs: 100_000, only: [5449] });
  const table = formatReport(report);
  assert.equal(report.cases, 1, table);
  assert.equal(report.counts.clean, 1, table);
});
