// `npm test`: type-check, build the bundles the worker/CLI tests run, then every test file under test/.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

function run(cmd, args) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
if (fs.existsSync('webview/explain/main.ts')) run('npx', ['tsc', '-p', 'webview/tsconfig.json', '--noEmit']);
run('node', ['esbuild.mjs']);
const files = fs.readdirSync('test').filter((f) => f.endsWith('.test.ts')).sort().map((f) => `test/${f}`);
run('node', ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]);
