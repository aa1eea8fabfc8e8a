// One bundle per runtime. TF.js stays external (its wasm binaries load from its package folder),
// and so does onnxruntime-node, whose native binding loads from its package's bin/ folder.
import * as fs from 'node:fs';
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  external: ['@tensorflow/*', 'vscode', 'onnxruntime-node'],
};

const entries = [
  { entryPoints: ['src/host/extension.ts'], outfile: 'dist/extension.js' },
  {
    entryPoints: ['webview/explain/main.ts'], outfile: 'dist/webview/explain.js',
    platform: 'browser', format: 'iife', target: 'es2022', external: [],
  },
  {
    entryPoints: ['webview/dissect/main.ts'], outfile: 'dist/webview/dissect.js',
    platform: 'browser', format: 'iife', target: 'es2022', external: [],
  },
  {
    entryPoints: ['webview/tcav/main.ts'], outfile: 'dist/webview/tcav.js',
    platform: 'browser', format: 'iife', target: 'es2022', external: [],
  },
  // Feature visualisation and Building Blocks panels.
  {
    entryPoints: ['webview/featureVis/main.ts'], outfile: 'dist/webview/featureVis.js',
    platform: 'browser', format: 'iife', target: 'es2022', external: [],
  },
  {
    entryPoints: ['webview/blocks/main.ts'], outfile: 'dist/webview/blocks.js',
    platform: 'browser', format: 'iife', target: 'es2022', external: [],
  },
  { entryPoints: ['src/worker/main.ts'], outfile: 'dist/worker.js' },
  // The engine's extra threads (src/engine/lanes/pool.ts), started from dist/worker.js and dist/cli.js.
  { entryPoints: ['src/engine/lanes/laneMain.ts'], outfile: 'dist/lane.js' },
  // Feature visualisation's parameterisation helper thread (src/engine/featureVis/paramThreads.ts).
  { entryPoints: ['src/engine/featureVis/paramThreadMain.ts'], outfile: 'dist/paramThread.js' },
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: ['bench/main.ts'], outfile: 'dist/bench.js' },
  { entryPoints: ['test/integration/extension.test.ts'], outfile: 'out/integration/extension.test.js' },
];

for (const entry of entries.filter((e) => fs.existsSync(e.entryPoints[0]))) {
  const options = { ...common, ...entry };
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
