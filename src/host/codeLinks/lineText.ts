/**
 * What a source line linked to the active model's layers says: its CodeLens title and its hover.
 * One line may stand for many layers (a block class's `self.conv2` line for every stage's block, a
 * module called twice, a torchvision-built model's construction line). Pure, tested without VS Code.
 */
import type { RankedDefinition } from '../codeIndex';
import { displayLayerName } from '../../protocol/layerNames';
import type { LayerInfo, ModelDescription } from '../../protocol/types';
import { codeLensTitle, codeName, escapeMarkdown, layerMarkdown, layerSummary, layoutNote } from '../format';

/** One layer of the model that links to the line, and the definition it links through. */
export interface LinkedLayer {
  layer: LayerInfo;
  ranked: RankedDefinition;
}

/** Module paths a lens title lists before `…`. */
const TITLE_NAMES = 3;
/** Layers a hover lists before "and N more". */
const HOVER_LAYERS = 12;

/** Layers whose module is this line's own (the others stop here: see their caveat). */
export function ownLayers(group: readonly LinkedLayer[]): LinkedLayer[] {
  return group.filter((g) => !g.ranked.definition.caveat);
}

/**
 * `Loupe: conv1 · Conv2D · 32×32×16 · 448 params` for one layer (as for TF.js models);
 * `Loupe: layer1.0.relu (2 calls) · Relu · 64×56×56 · 0 params` for a module called twice;
 * `Loupe: 8 modules: layer1.0.conv2, layer1.1.conv2, layer2.0.conv2, … · Conv` for a block's line;
 * `Loupe: 62 layers inside torchvision.models.resnet18` for a library model's construction line.
 */
export function lensTitle(group: readonly LinkedLayer[], layout: ModelDescription['layout'] | undefined): string {
  const own = ownLayers(group);
  const stopped = group.length - own.length;
  const more = stopped && own.length ? ` · +${stopped} not followed further` : '';
  if (own.length === 1) return `${codeLensTitle(own[0]!.layer, layout)}${more}`;
  if (own.length > 1) {
    const modules = [...new Set(own.map((g) => codeName(g.layer)))];
    const classes = [...new Set(own.map((g) => g.layer.className))];
    if (modules.length === 1) {
      // A converted graph model's Keras layer is several ops, not several calls.
      const ops = own.some((g) => displayLayerName(g.layer.name) !== g.layer.name);
      return `Loupe: ${modules[0]} (${own.length} ${ops ? 'ops' : 'calls'}) · ${layerSummary(own[0]!.layer, layout)}${more}`;
    }
    const names = modules.slice(0, TITLE_NAMES).join(', ') + (modules.length > TITLE_NAMES ? ', …' : '');
    // `layer1/Add`: an operation written in a forward(), not a module.
    const what = modules.some((m) => m.includes('/')) ? 'layers' : 'modules';
    return `Loupe: ${modules.length} ${what}: ${names} · ${classes.join(', ')}${more}`;
  }
  const library = group[0]!.ranked.definition.library;
  const count = `${group.length} layer${group.length === 1 ? '' : 's'}`;
  if (library && group.every((g) => g.ranked.definition.library === library)) return `Loupe: ${count} inside ${library}`;
  return `Loupe: ${count} Loupe could not follow past this line`;
}

/** The hover: the layer (or the layers) the line stands for, why a path stops here, and why this file. */
export function lineMarkdown(group: readonly LinkedLayer[], model: ModelDescription): string {
  const own = ownLayers(group);
  const parts: string[] = [];
  if (own.length === 1 && group.length === 1) {
    parts.push(layerMarkdown(own[0]!.layer, model));
    const d = own[0]!.ranked.definition;
    if (d.trail && d.trail.length > 1) parts.push(`Module path ${code(codeName(own[0]!.layer))}, as Loupe followed it:\n\n${d.trail.map((t) => `- ${escapeMarkdown(t)}`).join('\n')}`);
  } else {
    const shown = group.slice(0, HOVER_LAYERS).map((g) => {
      const stop = g.ranked.definition.caveat ? ' (stops here)' : '';
      return `- ${code(displayLayerName(g.layer.name))} · ${escapeMarkdown(layerSummary(g.layer, model.layout))}${stop}`;
    });
    if (group.length > HOVER_LAYERS) shown.push(`- … and ${group.length - HOVER_LAYERS} more`);
    parts.push(`**${group.length} layers** of model ${escapeMarkdown(model.name)} link to this line (${layoutNote(model.layout)}):\n\n${shown.join('\n')}`);
  }
  const caveats = [...new Set(group.map((g) => g.ranked.definition.caveat).filter((c): c is string => !!c))];
  if (caveats.length) {
    const listed = caveats.slice(0, 4).map((c) => `- ${escapeMarkdown(c)}`);
    if (caveats.length > 4) listed.push(`- … and ${caveats.length - 4} more`);
    parts.push(`**Why this line:** Loupe follows a module path as far as it can be sure, and links the deepest line it reached.\n\n${listed.join('\n')}`);
  }
  const how = group[0]!.ranked.definition.link;
  parts.push(`*Linked by ${how ? escapeMarkdown(how) : group[0]!.ranked.definition.framework === 'keras' ? 'its name= argument' : 'the name in the source'}.*`);
  parts.push(`_Linked because_ ${escapeMarkdown(group[0]!.ranked.reason)}`);
  return parts.join('\n\n');
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}
