// `npm test`: installs the end-to-end prerequisites when missing (scripts/e2e/setup.sh is idempotent),
// type-checks, builds the bundles, then runs every test file — engine, worker, CLI, host, webview and
// the end-to-end suite in a real VS Code — in one node:test run.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

function run(cmd, args) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('bash', ['scripts/e2e/setup.sh']);
// One type check per room (each refuses the other rooms' packages), then the whole tree with the tests.
for (const config of ['src/host/tsconfig.json', 'src/engine/tsconfig.json', 'webview/tsconfig.json', 'tsconfig.json']) {
  run('npx', ['tsc', '-p', config, '--noEmit']);
}
run('npx', ['eslint', '.']);
run('node', ['esbuild.mjs']);
console.log('NOT RUN (and not counted): the @vscode/test-electron integration tests (test/integration) — they download');
console.log('VS Code from update.code.visualstudio.com, which this machine cannot reach. Where it can: npm run test:integration.');
const files = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `${dir}/${f}`);
run('node', ['--import', 'tsx', '--test', '--test-concurrency=1', ...files('test'), ...files('test/e2e')]);
