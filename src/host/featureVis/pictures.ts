/** Which cached visualisation is a unit's picture, and where its file is. Pure (no `vscode` import): tested in Node. */
import * as path from 'node:path';
import type { FeatureVisSummary } from '../../protocol/featureVis';

/** The layer and unit a summary pictures, when it is a unit's default picture (one channel term, one image). */
export function unitOf(summary: Pick<FeatureVisSummary, 'objective' | 'params'>): { layer: string; unit: number } | undefined {
  const [term, ...rest] = summary.objective;
  if (rest.length > 0 || term?.kind !== 'channel' || term.batch !== undefined || (term.weight ?? 1) !== 1 || summary.params.batch !== 1) return undefined;
  return { layer: term.layer, unit: term.unit };
}

/** The summary's image file inside its folder, or undefined when its name would leave the folder (result.json is read from disk). */
export function imageFile(summary: Pick<FeatureVisSummary, 'dir' | 'image'>): string | undefined {
  const name = summary.image;
  if (!/^[\w.-]+\.png$/.test(name)) return undefined;
  return path.join(summary.dir, name);
}
