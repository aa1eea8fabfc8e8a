/**
 * `npm run demo`: Loupe in a real VS Code on the demo workspace, one command.
 * Installs the e2e toolchain when .e2e/ is missing (scripts/e2e/setup.sh), builds and packages the
 * VSIX, starts code-server (VS Code 1.139 in the browser) on demo/ with Loupe installed, prints the
 * URL, and runs until Ctrl-C, which stops code-server and removes its temporary profile.
 * Usage: npm run demo [-- --port 8080] [-- --host 127.0.0.1]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { e2eHome, missingPrerequisite, repoRoot, startCodeServer, type CodeServer } from './e2e/codeServer';
import { packageExtension } from './package';

const DEMO = path.join(repoRoot, 'demo');
const MODELS = ['demo/shapes/model/model.json', 'demo/digits/model/model.json'];

function option(name: string, fallback: string): string {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  if (!value || value.startsWith('--')) throw new Error(`--${name} needs a value`);
  return value;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, command)));
}

async function main(): Promise<void> {
  const port = Number(option('port', '8080'));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`--port: not a port number: ${option('port', '')}`);
  const host = option('host', '127.0.0.1');

  if (!existsSync(e2eHome) || missingPrerequisite()) {
    console.log(`[demo] setting up code-server, Node 24 and Chromium in ${path.relative(process.cwd(), e2eHome) || e2eHome} (first run: a few minutes)`);
    const setup = spawnSync('bash', [path.join(repoRoot, 'scripts/e2e/setup.sh')], { stdio: 'inherit' });
    if (setup.status !== 0) throw new Error(`scripts/e2e/setup.sh failed (exit ${setup.status})`);
  }
  const missing = missingPrerequisite();
  if (missing) throw new Error(missing);
  for (const model of MODELS) {
    if (!existsSync(path.join(repoRoot, model))) {
      console.warn(`[demo] ${model} is missing: train it with npx tsx ${path.dirname(path.dirname(model))}/train.ts (Loupe will list only the models it finds)`);
    }
  }

  console.log('[demo] building and packaging the extension…');
  const vsix = packageExtension();
  console.log(`[demo] ${path.relative(process.cwd(), vsix.vsix)} (${(vsix.bytes / 1024 / 1024).toFixed(2)} MB)`);

  let server: CodeServer;
  try {
    server = await startCodeServer(DEMO, { vsix: [vsix.vsix], port, host });
  } catch (error) {
    throw new Error(`code-server did not start on ${host}:${port} (port taken? try --port N):\n${(error as Error).message}`);
  }

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[demo] ${signal}: stopping code-server…`);
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  console.log('');
  console.log(`  Loupe demo running. Open in a browser:  ${server.url}`);
  console.log('  Right-click an image in images/ → "Explain Image"; the Loupe icon in the activity bar shows Models and Layers.');
  if (onPath('code')) {
    console.log(`  Or in desktop VS Code:  code --extensionDevelopmentPath=${repoRoot} ${DEMO}`);
  }
  console.log('  Ctrl-C stops it.');
  console.log('');

  const code = await server.exited;
  if (!stopping) {
    console.error(`[demo] code-server exited on its own (code ${code}):\n${server.log().split('\n').slice(-30).join('\n')}`);
    await server.stop();
    process.exit(1);
  }
}

main().catch((error: Error) => {
  console.error(`[demo] ${error.message}`);
  process.exit(1);
});
