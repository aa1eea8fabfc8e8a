/** Text the host shows for models and layers. Pure, so the labels are tested without VS Code. */
import { displayLayerName } from '../protocol/layerNames';
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

export type Layout = ModelDescription['layout'];

/**
 * A shape as the model's users think of it. Descriptions hold [H, W, C]; PyTorch users (layout 'NCHW')
 * read [C, H, W]. Shapes that are not H×W×C are shown as they are.
 */
export function userShape<T>(shape: readonly T[], layout: Layout | undefined): T[] {
  return layout === 'NCHW' && shape.length === 3 ? [shape[2]!, shape[0]!, shape[1]!] : [...shape];
}

/** `shapes as C×H×W` — said wherever shapes are shown, so the order is never guessed. */
export function layoutNote(layout: Layout | undefined): string {
  return layout === 'NCHW' ? 'shapes as C×H×W' : 'shapes as H×W×C';
}

/** The name the user's code gives a layer: its module path for PyTorch models (shared by every call of a reused module). */
export function codeName(layer: Pick<LayerInfo, 'name' | 'sourceName'>): string {
  return layer.sourceName ?? layer.name;
}

/** `Conv2D · 32×32×16 · 448 params` — the Layers view's description and the CodeLens' tail. */
export function layerSummary(layer: Pick<LayerInfo, 'className' | 'outputShape' | 'params'>, layout?: Layout): string {
  return `${layer.className} · ${formatShape(userShape(layer.outputShape, layout))} · ${formatParams(layer.params)}`;
}

/** A layer in a quick pick: its display name, and the full name below it when they differ (a converted graph model's op path). */
export function layerPickItem(layer: Pick<LayerInfo, 'name'>, extraDetail?: string): { label: string; detail?: string } {
  const label = displayLayerName(layer.name);
  const detail = [label !== layer.name ? layer.name : '', extraDetail ?? ''].filter(Boolean).join(' · ');
  return detail ? { label, detail } : { label };
}

/** `Loupe: conv1 · Conv2D · 32×32×16 · 448 params` */
export function codeLensTitle(layer: LayerInfo, layout?: Layout): string {
  return `Loupe: ${displayLayerName(layer.name)} · ${layerSummary(layer, layout)}`;
}

/** `call 2 of module layer1.0.relu` for a reused module's later calls; undefined when the name is the module path. */
export function moduleCall(layer: Pick<LayerInfo, 'name' | 'sourceName'>): string | undefined {
  if (!layer.sourceName || layer.sourceName === layer.name) return undefined;
  // A converted graph model's op: the Keras layer it belongs to (`conv2d_5`).
  if (displayLayerName(layer.name) !== layer.name) return `Keras layer ${layer.sourceName}`;
  const call = /#(\d+)$/.exec(layer.name)?.[1];
  return call ? `call ${call} of module ${layer.sourceName}` : `module ${layer.sourceName}`;
}

/** Markdown lines for a layer's tooltip and hover. Layer and class names are escaped: they come from model files. */
export function layerMarkdown(layer: LayerInfo, model: Pick<ModelDescription, 'name' | 'defaultCamLayer'> & Partial<Pick<ModelDescription, 'layout'>>): string {
  const shown = displayLayerName(layer.name);
  const lines = [
    `**${escapeMarkdown(shown)}** · ${escapeMarkdown(layer.className)} in model ${escapeMarkdown(model.name)}`,
    '',
    ...(shown !== layer.name ? [`- full name: ${escapeMarkdown(layer.name)}`] : []),
    `- output: ${formatShape(userShape(layer.outputShape, model.layout))}${model.layout === 'NCHW' && layer.outputShape.length === 3 ? ' (C×H×W)' : ''}`,
    `- parameters: ${thousands.format(layer.params)}`,
  ];
  const call = moduleCall(layer);
  if (call) lines.push(`- ${escapeMarkdown(call)}`);
  if (layer.activation) lines.push(`- activation: ${escapeMarkdown(layer.activation)}`);
  if (layer.inputs.length) lines.push(`- inputs: ${layer.inputs.map(escapeMarkdown).join(', ')}`);
  if (layer.name === model.defaultCamLayer) lines.push('- Grad-CAM uses this layer by default');
  return lines.join('\n');
}

/** `digits · 28×28×1 → 10 classes · 12,345 params` — the Layers view's message. */
export function modelSummary(model: Pick<ModelDescription, 'name' | 'inputShape' | 'numClasses' | 'totalParams' | 'format'> & Partial<Pick<ModelDescription, 'layout'>>): string {
  const layout = model.layout === 'NCHW' ? `, ${layoutNote(model.layout)}` : '';
  return `${model.name} · ${formatShape(userShape(model.inputShape, model.layout))} → ${model.numClasses} classes · ${formatParams(model.totalParams)} (${model.format} model${layout})`;
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

/**
 * How the host names a model everywhere (Models, status bar, panels, toasts, hovers): as the Models view
 * lists it, by its folder (a model.json) or its file (`pytorch/model.onnx`). Never by the name inside the
 * file: a converted graph model calls itself after its input tensor (`input_1`), and two exports of one
 * architecture carry the same topology name.
 */
export function modelLabel(relativePath: string): string {
  return shortModelName(relativePath);
}

/**
 * The model's layers as the user's code names them, one per Keras layer: a converted graph model's ops
 * (`StatefulPartitionedCall/model_1/conv2d_5/Conv2D`, `…/conv2d_5/Relu`) stand for one layer (`conv2d_5`),
 * which Keras's creation order links to code (its class left unknown: see ModelLayerRef). Other models' layers are returned as they are.
 */
export function codeLayerRefs(layers: readonly LayerInfo[]): Array<{ name: string; className: string }> {
  const seen = new Map<string, { name: string; className: string }>();
  for (const l of layers) {
    const name = l.sourceName ?? l.name;
    // A converted op's class is the op's, not its Keras layer's (a fused Conv2D + ReLU, a Flatten's Reshape): unknown ('').
    const converted = l.sourceName !== undefined && displayLayerName(l.name) !== l.name;
    if (!seen.has(name)) seen.set(name, { name, className: converted ? '' : l.className });
  }
  return [...seen.values()];
}

/** Folder names that say nothing about which model it is: `demo/digits/model/model.json` is "digits/model". */
const GENERIC_FOLDERS = new Set(['model', 'models', 'tfjs', 'tfjs_model', 'web_model', 'export', 'exported', 'saved_model', 'out', 'output', 'dist']);

/**
 * A short name for a model from its workspace-relative path. A model.json is named by its folder
 * (TF.js always writes that file name); any other model (and a checkpoint) by its file, with the
 * folder that holds it: `demo/pytorch/model.onnx` is "pytorch/model.onnx".
 */
export function shortModelName(relativePath: string): string {
  const folders = relativePath.split(/[\\/]/).filter(Boolean);
  const file = folders[folders.length - 1];
  if (file && file.toLowerCase() !== 'model.json') {
    if (folders.length === 1) return file;
    const parent = folders[folders.length - 2]!;
    if (folders.length >= 3 && GENERIC_FOLDERS.has(parent.toLowerCase())) return `${folders[folders.length - 3]}/${parent}/${file}`;
    return `${parent}/${file}`;
  }
  if (folders.length && folders[folders.length - 1]!.toLowerCase() === 'model.json') folders.pop();
  if (folders.length === 0) return 'model.json';
  const last = folders[folders.length - 1]!;
  if (folders.length >= 2 && GENERIC_FOLDERS.has(last.toLowerCase())) return `${folders[folders.length - 2]}/${last}`;
  return last;
}
