/**
 * Results on disk, one folder per (model weights, analysis, inputs, parameters):
 *   <root>/<model fingerprint>/<key>/<result file> + whatever files the analysis writes beside it.
 * An entry is built in a temporary sibling folder and renamed into place when complete, so a
 * cancelled or crashed run never leaves a half-written entry. Dissection, TCAV and feature visualisation
 * (in the worker) and the Explain panel's cache (in the host) store here: Node code both processes share.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LoupeError } from '../errors';

const PARTIAL = '.partial-';

/** Every stored result carries where it lives and whether it was read back. */
export interface StoredResult {
  dir: string;
  cached: boolean;
}

/** A short, stable key for the parts that identify a result (`format` included so a new algorithm never reuses old entries). */
export function entryKey(format: number, parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify({ format, ...parts })).digest('hex').slice(0, 24);
}

export function entryDir(root: string, fingerprint: string, key: string): string {
  return path.join(root, fingerprint.slice(0, 24), key);
}

/** A stored result, or undefined when absent, unreadable or refused by `valid` (it is then recomputed). */
export function readEntry<T extends StoredResult>(dir: string, resultFile: string, valid: (v: unknown) => boolean): T | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(dir, resultFile), 'utf8')) as unknown;
    if (!valid(parsed)) return undefined;
    return { ...(parsed as T), dir, cached: true };
  } catch {
    return undefined;
  }
}

/** Every complete entry stored for the model's weights. */
export function listEntries<T extends StoredResult>(root: string, fingerprint: string, resultFile: string, valid: (v: unknown) => boolean): T[] {
  const modelDir = path.join(root, fingerprint.slice(0, 24));
  let names: string[];
  try {
    names = fs.readdirSync(modelDir);
  } catch {
    return [];
  }
  return names.filter((n) => !n.includes(PARTIAL))
    .map((n) => readEntry<T>(path.join(modelDir, n), resultFile, valid))
    .filter((s): s is T => s !== undefined);
}

export interface PendingEntry<T extends StoredResult> {
  /** Where the run writes its files until commit. */
  readonly tmp: string;
  /** Writes the result file, then moves the folder into place; returns the result as stored. */
  commit(result: T): T;
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

export function beginEntry<T extends StoredResult>(dir: string, resultFile: string): PendingEntry<T> {
  removeOrphans(path.dirname(dir));
  const tmp = `${dir}${PARTIAL}${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.mkdirSync(tmp, { recursive: true });
  } catch (e) {
    // The cache folder is a setting (loupe cache, LOUPE_CACHE_DIR): say which folder and why, not a stack trace.
    throw new LoupeError('BAD_REQUEST', `cannot write Loupe's cache folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      path.dirname(path.dirname(dir)), 'point LOUPE_CACHE_DIR (or the cache setting) at a folder Loupe can write to');
  }
  return {
    tmp,
    commit(result) {
      const final = { ...result, dir, cached: false };
      fs.writeFileSync(path.join(tmp, resultFile), JSON.stringify(final, null, 1));
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
