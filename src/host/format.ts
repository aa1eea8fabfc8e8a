/** Text the host shows for models and layers. Pure, so the labels are tested without VS Code. */
import type { LayerInfo, ModelDescription } from '../protocol/types';

const thousands = new Intl.NumberFormat('en-US');

/** `[32, 32, 16]` → `32×32×16`; unknown dimensions (null/-1 from the model file) show as `?`. */
export function formatShape(shape: readonly (number | null)[]): string {
  if (shape.length === 0) return 'scalar';
  return shape.map((d) => (d === null || d < 0 || !Number.isFinite(d) ? '?' : String(d))).join('×');
}

export function formatParams(n: number): string {
  return `${thousands.format(n)} param${n === 1 ? '' : 's'}`;
}

/** `Conv2D · 32×32×16 · 448 params` — the Layers view's description and the CodeLens' tail. */
export function layerSummary(layer: Pick<LayerInfo, 'className' | 'outputShape' | 'params'>): string {
  return `${layer.className} · ${formatShape(layer.outputShape)} · ${formatParams(layer.params)}`;
}

/** `Loupe: conv1 · Conv2D · 32×32×16 · 448 params` */
export function codeLensTitle(layer: LayerInfo): string {
  return `Loupe: ${layer.name} · ${layerSummary(layer)}`;
}

/** Markdown lines for a layer's tooltip and hover. Layer and class names are escaped: they come from model files. */
export function layerMarkdown(layer: LayerInfo, model: Pick<ModelDescription, 'name' | 'defaultCamLayer'>): string {
  const lines = [
    `**${escapeMarkdown(layer.name)}** · ${escapeMarkdown(layer.className)} in model ${escapeMarkdown(model.name)}`,
    '',
    `- output: ${formatShape(layer.outputShape)}`,
    `- parameters: ${thousands.format(layer.params)}`,
  ];
  if (layer.activation) lines.push(`- activation: ${escapeMarkdown(layer.activation)}`);
  if (layer.inputs.length) lines.push(`- inputs: ${layer.inputs.map(escapeMarkdown).join(', ')}`);
  if (layer.name === model.defaultCamLayer) lines.push('- Grad-CAM uses this layer by default');
  return lines.join('\n');
}

/** `digits · 28×28×1 → 10 classes · 12,345 params` — the Layers view's message. */
export function modelSummary(model: Pick<ModelDescription, 'name' | 'inputShape' | 'numClasses' | 'totalParams' | 'format'>): string {
  return `${model.name} · ${formatShape(model.inputShape)} → ${model.numClasses} classes · ${formatParams(model.totalParams)} (${model.format} model)`;
}

/** Grad-CAM needs a spatial map: an H×W×C output. */
export function isSpatial(layer: Pick<LayerInfo, 'outputShape'>): boolean {
  return layer.outputShape.length === 3;
}

export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

export type WorkerStateName = 'idle' | 'starting' | 'busy' | 'error';

/** `Loupe: digits · wasm · idle` — the status bar text (without the codicon). */
export function statusText(model: string | undefined, backend: string, state: WorkerStateName): string {
  return `Loupe: ${model ?? 'no model'} · ${backend} · ${state}`;
}

/** Folder names that say nothing about which model it is: `demo/digits/model/model.json` is "digits/model". */
const GENERIC_FOLDERS = new Set(['model', 'models', 'tfjs', 'tfjs_model', 'web_model', 'export', 'exported', 'saved_model', 'out', 'output', 'dist']);

/** A short name for a model.json from its workspace-relative path. */
export function shortModelName(relativePath: string): string {
  const folders = relativePath.split(/[\\/]/).filter(Boolean);
  if (folders.length && folders[folders.length - 1]!.toLowerCase() === 'model.json') folders.pop();
  if (folders.length === 0) return 'model.json';
  const last = folders[folders.length - 1]!;
  if (folders.length >= 2 && GENERIC_FOLDERS.has(last.toLowerCase())) return `${folders[folders.length - 2]}/${last}`;
  return last;
}
