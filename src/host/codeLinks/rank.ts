/** Which source files get CodeLenses for a layer. Pure. */
import type { RankedDefinition } from '../codeIndex';

/** rankDefinitions' scores come in tiers of 1000: 3 = saves the model, 2 = names its path, 1 = neither. */
export function tierOf(score: number): number {
  return Math.floor((score + 999) / 1000);
}

/**
 * True when `file`'s definition of the layer is as good a link as the best one: once some script
 * provably saves (or names) the active model, same-named layers in other scripts are about other models
 * and get no lens. A file not in the ranking (new, unsaved) links only when no file claims the model.
 */
export function linksFile(ranked: readonly RankedDefinition[], file: string): boolean {
  if (ranked.length === 0) return false;
  const best = ranked[0]!.tier;
  const own = ranked.filter((r) => r.definition.file === file);
  if (own.length === 0) return best <= 1;
  return own.some((r) => r.tier === best);
}
