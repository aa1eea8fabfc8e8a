/**
 * `npm run package`: builds the bundles and packs the VSIX with vsce.
 * What goes in is decided by .vscodeignore (an allowlist); this script only runs the tools and
 * reports the result. vsce 3.9 is a devDependency (it runs on Node 20; 4.x needs Node >= 22); the
 * copy that scripts/e2e/setup.sh installs under .e2e/tools is the fallback.
 * Usage: tsx scripts/package.ts [--out FILE.vsix] [--quiet]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..');

export interface PackageResult {
  vsix: string;
  bytes: number;
  /** Paths inside the VSIX (`extension/...`), as vsce listed them. */
  files: string[];
  ms: number;
}

function vsceEntry(): string {
  const candidates = [
    path.join(repoRoot, 'node_modules/@vscode/vsce/vsce'),
    path.join(process.env.LOUPE_E2E_HOME ?? path.join(repoRoot, '.e2e'), 'tools/node_modules/@vscode/vsce/vsce'),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`@vscode/vsce not found (looked at ${candidates.join(', ')}): run npm install`);
  return found;
}

function run(command: string, args: string[], what: string): string {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}):\n${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`);
  }
  return result.stdout;
}

/** Builds with esbuild.mjs and writes the VSIX (default `loupe-<version>.vsix` in the repo root). */
export function packageExtension(options: { out?: string } = {}): PackageResult {
  const started = performance.now();
  const { name, version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  const vsix = path.resolve(options.out ?? path.join(repoRoot, `${name}-${version}.vsix`));
  run(process.execPath, ['esbuild.mjs'], 'the build (node esbuild.mjs)');
  const vsce = vsceEntry();
  // No `repository` in package.json: without --allow-missing-repository vsce stops to ask, and without
  // --no-rewrite-relative-links it refuses the README's relative image links (it cannot make them absolute).
  run(process.execPath, [vsce, 'package', '--allow-missing-repository', '--no-rewrite-relative-links', '--out', vsix], 'vsce package');
  // `vsce ls` prints the same file list package used (same .vscodeignore, same dependency walk).
  const files = run(process.execPath, [vsce, 'ls'], 'vsce ls')
    .split('\n').map((l) => l.trim()).filter(Boolean).map((f) => `extension/${f}`);
  return { vsix, bytes: statSync(vsix).size, files, ms: Math.round(performance.now() - started) };
}

function main(): void {
  const argv = process.argv.slice(2);
  const outIndex = argv.indexOf('--out');
  const out = outIndex >= 0 ? argv[outIndex + 1] : undefined;
  if (outIndex >= 0 && !out) throw new Error('--out needs a file name');
  const result = packageExtension(out ? { out } : {});
  const mb = (result.bytes / 1024 / 1024).toFixed(2);
  console.log(`VSIX: ${path.relative(process.cwd(), result.vsix) || result.vsix}`);
  console.log(`size: ${result.bytes} bytes (${mb} MB), ${result.files.length} files, built in ${(result.ms / 1000).toFixed(1)} s`);
  if (!argv.includes('--quiet')) {
    const top = new Map<string, number>();
    for (const f of result.files) {
      const parts = f.split('/');
      const key = parts[1] === 'node_modules' ? parts.slice(0, parts[2]?.startsWith('@') ? 4 : 3).join('/') : parts.slice(0, 3).join('/');
      top.set(key, (top.get(key) ?? 0) + 1);
    }
    for (const [key, count] of [...top].sort()) console.log(`  ${key}${count > 1 ? ` (${count} files)` : ''}`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`package: ${(error as Error).message}`);
    process.exit(1);
  }
}
