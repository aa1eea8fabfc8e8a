/*
 * The rooms of ARCHITECTURE.md: nothing crosses between the host, the worker's room (engine, worker, CLI)
 * and the webview except through src/protocol. Two guards: every import of every source file is
 * checked here, and each room's tsconfig maps the other rooms' packages to a type that fails to use.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';

const ROOT = path.join(__dirname, '..');

interface Room {
  name: string;
  dirs: string[];
  /** Folders (relative to the root) this room may import from, besides its own. */
  reaches: string[];
  /** Packages this room must not import. */
  forbiddenPackages: RegExp;
  /** Node built-ins: the webview runs in a browser. */
  builtins: boolean;
}

const ROOMS: Room[] = [
  { name: 'host', dirs: ['src/host'], reaches: ['src/protocol'], forbiddenPackages: /^(@tensorflow\/|onnxruntime-node$|onnx-proto$)/, builtins: true },
  { name: 'worker', dirs: ['src/engine', 'src/worker', 'src/cli'], reaches: ['src/protocol'], forbiddenPackages: /^vscode$/, builtins: true },
  { name: 'webview', dirs: ['webview'], reaches: ['src/protocol'], forbiddenPackages: /^(vscode|@tensorflow\/.*|onnxruntime-node|vscode-jsonrpc)$/, builtins: false },
  // The contract itself depends on no room; its node/ part (wire codecs for the two Node processes) on Node only.
  { name: 'protocol', dirs: ['src/protocol'], reaches: [], forbiddenPackages: /^(vscode|@tensorflow\/.*|onnxruntime-node)$/, builtins: true },
];

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|mts)$/.test(f) && !f.endsWith('.d.ts')).map((f) => path.join(dir, f));
}

/** Module specifiers of static imports, re-exports and dynamic import() calls. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  }
  return found;
}

test('every import stays in its room or goes through src/protocol', () => {
  const violations: string[] = [];
  let checked = 0;
  for (const room of ROOMS) {
    const own = room.dirs;
    for (const file of room.dirs.flatMap(sources)) {
      for (const spec of specifiers(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
        checked++;
        if (spec.startsWith('.')) {
          const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
          const inside = (dir: string) => target === dir || target.startsWith(`${dir}/`);
          if (target === 'package.json') continue; // the version every room may print
          if (room.name === 'webview' && inside('src/protocol/node')) violations.push(`${file}: ${spec} (Node-only wire codecs)`);
          else if (!own.some(inside) && !room.reaches.some(inside)) violations.push(`${file}: ${spec}`);
        } else if (isBuiltin(spec)) {
          if (!room.builtins) violations.push(`${file}: ${spec} (a Node built-in in browser code)`);
        } else if (room.forbiddenPackages.test(spec)) {
          violations.push(`${file}: ${spec} (a package of another room)`);
        }
      }
    }
  }
  assert.ok(checked > 500, `only ${checked} imports found: the scanner is broken`);
  assert.deepEqual(violations, []);
});

test('the scanner sees the imports it must refuse', () => {
  const text = "import { a } from '../engine/x';\nimport type { B } from \"./y\";\nexport * from '../protocol/z';\nconst m = await import('vscode');\nimport 'side-effect';";
  assert.deepEqual(specifiers(text), ['../engine/x', './y', '../protocol/z', 'vscode', 'side-effect']);
});

/** Type-checks one probe file under a room's tsconfig, as `npm test` type-checks the room. */
function typeCheckProbe(roomConfig: string, probe: string): string {
  // Inside the repository, so that the probe finds node_modules/@types as the rooms do.
  const dir = fs.mkdtempSync(path.join(ROOT, '.room-probe-'));
  fs.writeFileSync(path.join(dir, 'probe.ts'), probe);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(ROOT, roomConfig), include: ['probe.ts'] }));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json'), '--noEmit'], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  return `${r.status}\n${r.stdout}${r.stderr}`;
}

test('each room\'s tsconfig fails the type check of a forbidden package, and passes its own', () => {
  const host = typeCheckProbe('src/host/tsconfig.json', "import * as tf from '@tensorflow/tfjs';\nexport const n = tf.tensor([1]).size;\n");
  assert.match(host, /belongs to another room/, host);
  const worker = typeCheckProbe('src/engine/tsconfig.json', "import * as vscode from 'vscode';\nexport const w = vscode.window;\n");
  assert.match(worker, /belongs to another room/, worker);
  const webview = typeCheckProbe('webview/tsconfig.json', "import * as fs from 'node:fs';\nexport const f = fs.readFileSync;\n");
  assert.match(webview, /error TS/, webview);
  const allowed = typeCheckProbe('src/engine/tsconfig.json', "import * as tf from '@tensorflow/tfjs';\nexport const n = tf.tensor([1]).size;\n");
  assert.match(allowed, /^0\n/, allowed);
});
