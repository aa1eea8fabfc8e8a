/**
 * `npm run package`: builds the bundles and packs a platform-specific VSIX with vsce (this machine's
 * platform unless --target says another). What goes in is decided by .vscodeignore (an allowlist) plus
 * the ONNX Runtime binaries of that one platform (45–80 MB each; all six would make a 290 MB VSIX).
 * vsce 3.9 is a devDependency (it runs on Node 20; 4.x needs Node >= 22); the copy that
 * scripts/e2e/setup.sh installs under .e2e/tools is the fallback.
 * Usage: tsx scripts/package.ts [--target linux-x64|linux-arm64|darwin-arm64|win32-x64|win32-arm64] [--out FILE.vsix] [--quiet]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..');

/** VS Code targets onnxruntime-node ships CPU binaries for, and their folder under bin/napi-v6. */
export const ORT_TARGETS: Readonly<Record<string, string>> = {
  'linux-x64': 'linux/x64', 'linux-arm64': 'linux/arm64', 'darwin-arm64': 'darwin/arm64', 'win32-x64': 'win32/x64', 'win32-arm64': 'win32/arm64',
};

export interface PackageResult {
  vsix: string;
  target: string;
  /** Whether the VSIX carries ONNX Runtime's binaries (else the extension runs on WebAssembly). */
  onnxRuntime: boolean;
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

/** Builds with esbuild.mjs and writes the VSIX (default `loupe-<version>-<target>.vsix` in the repo root). */
export function packageExtension(options: { out?: string; target?: string } = {}): PackageResult {
  const started = performance.now();
  const target = options.target ?? `${process.platform}-${process.arch}`;
  const { name, version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  const vsix = path.resolve(options.out ?? path.join(repoRoot, `${name}-${version}-${target}.vsix`));
  run(process.execPath, ['esbuild.mjs'], 'the build (node esbuild.mjs)');
  const vsce = vsceEntry();
  const ortDir = ORT_TARGETS[target];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'loupe-package-'));
  try {
    // .vscodeignore plus this platform's ONNX Runtime binaries.
    const ignore = path.join(tmp, '.vscodeignore');
    writeFileSync(ignore, `${readFileSync(path.join(repoRoot, '.vscodeignore'), 'utf8')}\n${ortDir ? `!node_modules/onnxruntime-node/bin/napi-v6/${ortDir}/*\n` : ''}`);
    // No `repository` in package.json: without --allow-missing-repository vsce stops to ask, and without
    // --no-rewrite-relative-links it refuses the README's relative image links (it cannot make them absolute).
    run(process.execPath, [vsce, 'package', '--allow-missing-repository', '--no-rewrite-relative-links', '--target', target, '--ignoreFile', ignore,
      '--out', vsix], 'vsce package');
    // `vsce ls` prints the same file list package used (same ignore file, same dependency walk).
    const files = run(process.execPath, [vsce, 'ls', '--ignoreFile', ignore], 'vsce ls')
      .split('\n').map((l) => l.trim()).filter(Boolean).map((f) => `extension/${f}`);
    return { vsix, target, onnxRuntime: ortDir !== undefined, bytes: statSync(vsix).size, files, ms: Math.round(performance.now() - started) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function main(): void {
  const argv = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    if (i >= 0 && !argv[i + 1]) throw new Error(`${flag} needs a value`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out = value('--out');
  const target = value('--target');
  const result = packageExtension({ ...(out ? { out } : {}), ...(target ? { target } : {}) });
  const mb = (result.bytes / 1024 / 1024).toFixed(2);
  console.log(`VSIX: ${path.relative(process.cwd(), result.vsix) || result.vsix} (${result.target}; ${result.onnxRuntime
    ? 'with ONNX Runtime\'s CPU binaries for this platform' : 'no ONNX Runtime binaries exist for this platform: the extension runs on WebAssembly'})`);
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
