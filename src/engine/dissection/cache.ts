/**
 * Dissections on disk, one folder per (model weights, layer, probe set, parameters):
 *   <root>/<model fingerprint>/<key>/result.json + units/unit_NNNN.png
 * Stored through the engine's atomic entry store (../cache/entries.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { DissectionSummary } from '../../protocol/types';
import { beginEntry as begin, entryKey, listEntries as list, readEntry as read, type PendingEntry } from '../../protocol/node/cacheEntries';

export { entryDir } from '../../protocol/node/cacheEntries';

const RESULT = 'result.json';
/** Bumped when the algorithm or the result's shape changes, so older entries are not reused. */
const FORMAT = 1;

export function defaultCacheRoot(): string {
  if (process.env.LOUPE_CACHE_DIR) return path.resolve(process.env.LOUPE_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'loupe', 'dissections');
}

export function dissectionKey(parts: Record<string, unknown>): string {
  return entryKey(FORMAT, parts);
}

function isSummary(v: unknown): boolean {
  const s = v as Partial<DissectionSummary> | null;
  return typeof s === 'object' && s !== null && Array.isArray(s.units) && typeof s.layer === 'string';
}

/** A stored result, or undefined when absent or unreadable (it is then recomputed). */
export function readEntry(dir: string): DissectionSummary | undefined {
  return read<DissectionSummary>(dir, RESULT, isSummary);
}

export function listEntries(root: string, fingerprint: string): DissectionSummary[] {
  return list<DissectionSummary>(root, fingerprint, RESULT, isSummary);
}

export function beginEntry(dir: string): PendingEntry<DissectionSummary> {
  return begin<DissectionSummary>(dir, RESULT);
}
