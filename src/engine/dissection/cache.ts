/**
 * Dissections on disk, one folder per (model weights, layer, probe set, parameters):
 *   <root>/<model fingerprint>/<key>/result.json + units/unit_NNNN.png
 * An entry is built in a temporary sibling folder and renamed into place when complete, so a
 * cancelled or crashed run never leaves a half-written entry.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DissectionSummary } from '../../protocol/types';

const RESULT = 'result.json';
const PARTIAL = '.partial-';
/** Bumped when the algorithm or the result's shape changes, so older entries are not reused. */
const FORMAT = 1;

export function defaultCacheRoot(): string {
  if (process.env.LOUPE_CACHE_DIR) return path.resolve(process.env.LOUPE_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'loupe', 'dissections');
}

export function dissectionKey(parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify({ format: FORMAT, ...parts })).digest('hex').slice(0, 24);
}

export function entryDir(root: string, fingerprint: string, key: string): string {
  return path.join(root, fingerprint.slice(0, 24), key);
}

/** A stored result, or undefined when absent or unreadable (it is then recomputed). */
export function readEntry(dir: string): DissectionSummary | undefined {
  try {
    const summary = JSON.parse(fs.readFileSync(path.join(dir, RESULT), 'utf8')) as DissectionSummary;
    if (!Array.isArray(summary.units) || typeof summary.layer !== 'string') return undefined;
    return { ...summary, dir, cached: true };
  } catch {
    return undefined;
  }
}

export function listEntries(root: string, fingerprint: string): DissectionSummary[] {
  const modelDir = path.join(root, fingerprint.slice(0, 24));
  let names: string[];
  try {
    names = fs.readdirSync(modelDir);
  } catch {
    return [];
  }
  return names.filter((n) => !n.includes(PARTIAL))
    .map((n) => readEntry(path.join(modelDir, n)))
    .filter((s): s is DissectionSummary => s !== undefined);
}

export interface PendingEntry {
  /** Where the run writes its files until commit. */
  readonly tmp: string;
  commit(summary: DissectionSummary): DissectionSummary;
  abort(): void;
}

/** Partial folders of runs whose process died (killed, crashed) are removed by the next run. */
function removeOrphans(modelDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(modelDir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/\.partial-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      fs.rmSync(path.join(modelDir, name), { recursive: true, force: true });
    }
  }
}

export function beginEntry(dir: string): PendingEntry {
  removeOrphans(path.dirname(dir));
  const tmp = `${dir}${PARTIAL}${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(tmp, { recursive: true });
  return {
    tmp,
    commit(summary) {
      const final = { ...summary, dir, cached: false };
      fs.writeFileSync(path.join(tmp, RESULT), JSON.stringify(final, null, 1));
      // A refresh replaces the previous entry: move it aside first so the rename cannot fail on a non-empty folder.
      const old = fs.existsSync(dir) ? `${dir}${PARTIAL}old-${randomBytes(4).toString('hex')}` : undefined;
      if (old) fs.renameSync(dir, old);
      fs.renameSync(tmp, dir);
      if (old) fs.rmSync(old, { recursive: true, force: true });
      return final;
    },
    abort() {
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
