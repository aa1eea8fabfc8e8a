/**
 * TCAV results on disk: <root>/<model fingerprint>/<key>/result.json + tcav.csv, tcav.json, tcav.png,
 * through the engine's atomic entry store (../cache/entries.ts). The root is a `tcav` folder inside the
 * engine's cache folder (whose other entries are dissections, keyed by fingerprint folders).
 */
import * as path from 'node:path';
import type { TcavResult } from '../../protocol/tcav';
import { beginEntry as begin, entryKey, listEntries as list, readEntry as read, type PendingEntry } from '../../protocol/node/cacheEntries';

export { entryDir } from '../../protocol/node/cacheEntries';

const RESULT = 'result.json';
/** Bumped when the algorithm or the result's shape changes, so older entries are not reused. */
const FORMAT = 1;

export function tcavCacheRoot(engineCacheDir: string): string {
  return path.join(engineCacheDir, 'tcav');
}

export function tcavKey(parts: Record<string, unknown>): string {
  return entryKey(FORMAT, parts);
}

function isResult(v: unknown): boolean {
  const r = v as Partial<TcavResult> | null;
  return typeof r === 'object' && r !== null && Array.isArray(r.layers) && typeof r.key === 'string' && typeof r.classIndex === 'number';
}

export function readTcavEntry(dir: string): TcavResult | undefined {
  return read<TcavResult>(dir, RESULT, isResult);
}

export function listTcavEntries(root: string, fingerprint: string): TcavResult[] {
  return list<TcavResult>(root, fingerprint, RESULT, isResult);
}

export function beginTcavEntry(dir: string): PendingEntry<TcavResult> {
  return begin<TcavResult>(dir, RESULT);
}
