/**
 * Dissections on disk, one folder per (model weights, layer, probe set, parameters):
 *   <root>/<model fingerprint>/<key>/result.json + units/unit_NNNN.png
 * Stored atomically by the shared entry store (../cache/entries.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { DissectionSummary } from '../../protocol/types';
import * as entries from '../cache/entries';

/** Bumped when the algorithm or the result's shape changes, so older entries are not reused. */
const FORMAT = 1;

export { entryDir, type PendingEntry } from '../cache/entries';

export function defaultCacheRoot(): string {
  if (process.env.LOUPE_CACHE_DIR) return path.resolve(process.env.LOUPE_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'loupe', 'dissections');
}

export function dissectionKey(parts: Record<string, unknown>): string {
  return entries.hashKey(FORMAT, parts);
}

const valid = (s: DissectionSummary) => Array.isArray(s.units) && typeof s.layer === 'string';

/** A stored result, or undefined when absent or unreadable (it is then recomputed). */
export function readEntry(dir: string): DissectionSummary | undefined {
  return entries.readEntry(dir, valid);
}

export function listEntries(root: string, fingerprint: string): DissectionSummary[] {
  return entries.listEntries(root, fingerprint, valid);
}

export function beginEntry(dir: string): entries.PendingEntry<DissectionSummary> {
  return entries.beginEntry<DissectionSummary>(dir);
}
