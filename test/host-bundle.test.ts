// The extension host bundle must not pull in TF.js or the engine: analyses run in the worker.
// Built in memory from the same entry and options as esbuild.mjs.
import assert from 'node:assert/strict';
import { isBuiltin } from 'node:module';
import { test } from 'node:test';
import * as esbuild from 'esbuild';

test('dist/extension.js bundles no TF.js and no engine code beyond its error classes and disk entries', async () => {
  const result = await esbuild.build({
    entryPoints: ['src/host/extension.ts'], bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    external: ['@tensorflow/*', 'vscode'], write: false, metafile: true, outfile: 'out/extension.js', logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.includes('src/host/extension.ts'));
  assert.deepEqual(inputs.filter((f) => f.includes('@tensorflow')), []);
  // entries.ts: the atomic, keyed disk entries (node:fs and node:crypto only) the host's explanation cache shares with dissection and TCAV.
  assert.deepEqual(inputs.filter((f) => f.startsWith('src/engine/')).sort(), ['src/engine/cache/entries.ts', 'src/engine/errors.ts']);
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  assert.deepEqual(imports.filter((p) => p !== 'vscode' && !isBuiltin(p)), []);
});

