// The workspace's layer definitions, by layer name, and the ranking that picks the definition
// belonging to the file that produced the active model. Pure: the caller reads files and passes text.
import * as path from 'node:path';
import { modelFileKind } from '../../protocol/formats';
import { linkByCreationOrder, scanKerasAutoCalls, type ModelLayerRef } from './kerasNames';
import { scanPython } from './python';
import { scanTfjs } from './tfjs';
import type { FileScan, LayerDefinition, PathMention, RankedDefinition } from './types';

export type { FileScan, LayerDefinition, LayerFramework, PathMention, RankedDefinition } from './types';
export { scanPython } from './python';
export { scanTfjs, tfjsClassName } from './tfjs';
export { linkByCreationOrder, scanKerasAutoCalls, type KerasAutoCall, type ModelLayerRef } from './kerasNames';

/** Files the index reads, and folders it never enters (for `workspace.findFiles`). */
export const INDEXED_GLOB = '**/*.{py,js,mjs,cjs,ts,mts,cts,jsx,tsx}';
export const EXCLUDED_GLOB = '**/{node_modules,.git,dist,out,build,.venv,venv,env,__pycache__,site-packages,.e2e}/**';
/** Larger files are generated bundles or data, not training code. */
export const MAX_INDEXED_BYTES = 2_000_000;

const PYTHON = new Set(['.py', '.pyw']);
const SCRIPT = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts', '.jsx', '.tsx']);

export function isIndexable(file: string): boolean {
  const ext = path.extname(file).toLowerCase();
  return PYTHON.has(ext) || SCRIPT.has(ext);
}

export function scanFile(file: string, text: string): FileScan {
  const ext = path.extname(file).toLowerCase();
  if (PYTHON.has(ext)) return { ...scanPython(file, text), kerasAuto: scanKerasAutoCalls(text) };
  if (SCRIPT.has(ext)) return scanTfjs(file, text);
  return { definitions: [], mentions: [] };
}

export interface RankContext {
  /** The active model's model.json. */
  modelPath: string;
  /** Where relative paths in scripts are resolved besides the script's own folder (scripts usually run from here). */
  workspaceRoot?: string;
  /** The active model's layers: unnamed Keras layers in scripts are linked to them by creation order. */
  modelLayers?: readonly ModelLayerRef[];
}

export class LayerIndex {
  private readonly files = new Map<string, FileScan>();
  private readonly byName = new Map<string, LayerDefinition[]>();
  /** Per file, its creation-order links to the last model layers asked about (recomputed when they change). */
  private readonly orderLinks = new Map<string, { layers: readonly ModelLayerRef[]; byLayer: Map<string, LayerDefinition> }>();

  /** (Re)indexes one file; returns its definitions. */
  update(file: string, text: string): LayerDefinition[] {
    this.remove(file);
    if (!isIndexable(file) || text.length > MAX_INDEXED_BYTES) return [];
    const scan = scanFile(file, text);
    this.files.set(file, scan);
    for (const d of scan.definitions) {
      const list = this.byName.get(d.name);
      if (list) list.push(d);
      else this.byName.set(d.name, [d]);
    }
    return scan.definitions;
  }

  remove(file: string): void {
    const old = this.files.get(file);
    if (!old) return;
    this.files.delete(file);
    this.orderLinks.delete(file);
    for (const d of old.definitions) {
      const rest = (this.byName.get(d.name) ?? []).filter((x) => x.file !== file);
      if (rest.length) this.byName.set(d.name, rest);
      else this.byName.delete(d.name);
    }
  }

  clear(): void {
    this.files.clear();
    this.byName.clear();
    this.orderLinks.clear();
  }

  /** Definitions in one file, in source order (for CodeLenses). */
  definitionsIn(file: string): LayerDefinition[] {
    return this.files.get(file)?.definitions ?? [];
  }

  /**
   * Every definition of `layerName`. A PyTorch name nested in a custom module (`block1.conv`) that
   * no definition spells in full falls back to the PyTorch definitions of its longest dotted suffix
   * (`conv`), since the index does not follow attributes across classes.
   */
  lookup(layerName: string, modelLayers?: readonly ModelLayerRef[]): LayerDefinition[] {
    const byOrder = modelLayers ? this.byCreationOrder(layerName, modelLayers) : [];
    const exact = this.byName.get(layerName);
    if (exact || byOrder.length) return [...(exact ?? []), ...byOrder];
    const parts = layerName.split('.');
    for (let k = 1; k < parts.length; k++) {
      const suffix = parts.slice(k).join('.');
      const found = (this.byName.get(suffix) ?? []).filter((d) => d.framework === 'pytorch');
      if (found.length) return found;
    }
    return [];
  }

  /** `lookup(layerName)` ordered best first, each with the reason for its place. */
  rank(layerName: string, context: RankContext): RankedDefinition[] {
    return rankDefinitions(this.lookup(layerName, context.modelLayers), (file) => this.files.get(file)?.mentions ?? [], context);
  }

  /** Unnamed Keras layers that creation order links to `layerName` (one per file at most). */
  private byCreationOrder(layerName: string, modelLayers: readonly ModelLayerRef[]): LayerDefinition[] {
    const out: LayerDefinition[] = [];
    for (const [file, scan] of this.files) {
      if (!scan.kerasAuto?.length) continue;
      let cached = this.orderLinks.get(file);
      if (!cached || cached.layers !== modelLayers) {
        const byLayer = new Map(linkByCreationOrder(scan.kerasAuto, [...modelLayers]).links.map(({ layer, call, how }) => [layer, {
          name: layer, file, line: call.line, column: call.column, nameLine: call.line, nameColumn: call.column,
          framework: 'keras' as const, className: call.className, link: how,
        }]));
        cached = { layers: modelLayers, byLayer };
        this.orderLinks.set(file, cached);
      }
      const found = cached.byLayer.get(layerName);
      if (found) out.push(found);
    }
    return out;
  }

  get fileCount(): number {
    return this.files.size;
  }
}

/**
 * Orders definitions by how sure we are that their file produced the model at `context.modelPath`:
 *  1. the file passes a path naming the model's folder or model.json to a saving call
 *     (`model.save(...)`, `save_keras_model(...)`, `saveLayersModel`, `torch.onnx.export`, ...);
 *  2. the file mentions that path in any other string (e.g. `OUT_DIR = "demo/digits/model"`);
 *  3. otherwise, the file that sits fewest folder steps from model.json.
 * Within a tier, fewer folder steps first, then the path alphabetically. A string names the model
 * when, with any `file://` removed, it resolves (against the file's folder or the workspace root) to
 * the model's folder, its model.json or a file inside that folder, or when it has several segments and
 * the model's folder path ends with them. A single-file model (.keras, .h5, .onnx) is named only by its
 * own path (namesModelFile).
 */
export function rankDefinitions(
  definitions: LayerDefinition[],
  mentionsOf: (file: string) => PathMention[],
  context: RankContext,
): RankedDefinition[] {
  const modelPath = path.resolve(context.modelPath);
  const modelDir = path.dirname(modelPath);
  const root = context.workspaceRoot ? path.resolve(context.workspaceRoot) : undefined;
  const show = (file: string): string => (root ? path.relative(root, file) || path.basename(file) : file);
  const modelShown = show(modelPath);

  const ranked = definitions.map((definition): RankedDefinition => {
    const distance = folderSteps(path.dirname(path.resolve(definition.file)), modelDir);
    let saved: PathMention | undefined;
    let mentioned: PathMention | undefined;
    for (const m of mentionsOf(definition.file)) {
      if (!namesModel(m.value, definition.file, modelPath, root)) continue;
      if (m.saveCall && !saved) saved = m;
      if (!mentioned) mentioned = m;
    }
    const file = show(definition.file);
    const steps = `${distance} folder step${distance === 1 ? '' : 's'} from ${modelShown}`;
    if (saved) {
      return {
        definition, score: 3000 - distance,
        reason: `${file} saves the model: ${saved.saveCall}("${saved.value}") on line ${saved.line + 1} names ${modelShown}`,
      };
    }
    if (mentioned) {
      return {
        definition, score: 2000 - distance,
        reason: `${file} mentions "${mentioned.value}" on line ${mentioned.line + 1}, which names ${modelShown}`,
      };
    }
    return { definition, score: 1000 - distance, reason: `no script names ${modelShown}; ${file} is ${steps}` };
  });
  return ranked.sort((a, b) => b.score - a.score
    || a.definition.file.localeCompare(b.definition.file)
    || a.definition.line - b.definition.line);
}

function namesModel(value: string, file: string, modelPath: string, root: string | undefined): boolean {
  const cleaned = value.replace(/^file:\/\//, '').replace(/\\/g, '/').replace(/\/+$/, '');
  if (!cleaned || cleaned === '.') return false;
  if (modelFileKind(modelPath) !== 'tfjs') return namesModelFile(cleaned, file, modelPath, root);
  const modelDir = path.dirname(modelPath);
  const bases = [path.dirname(path.resolve(file)), ...(root ? [root] : [])];
  for (const base of bases) {
    const resolved = path.resolve(base, cleaned);
    if (resolved === modelDir || resolved === modelPath || isInside(resolved, modelDir)) return true;
  }
  // A multi-segment relative path run from an unknown working directory: compare tails.
  const segments = cleaned.split('/').filter((s) => s && s !== '.');
  if (segments.length >= 2 && !path.isAbsolute(cleaned) && !segments.includes('..')) {
    const tail = segments.join(path.sep);
    if (modelDir.endsWith(path.sep + tail) || modelPath.endsWith(path.sep + tail)) return true;
  }
  return false;
}

/**
 * A single-file model (`.keras`, `.h5`, `.onnx`) is named only by a path to that file: resolved against
 * the script's folder or the workspace root, or (the script may run from anywhere) a relative path whose
 * segments end the model's path, such as `model.save("mnist_cnn.keras")`.
 */
function namesModelFile(cleaned: string, file: string, modelPath: string, root: string | undefined): boolean {
  for (const base of [path.dirname(path.resolve(file)), ...(root ? [root] : [])]) {
    if (path.resolve(base, cleaned) === modelPath) return true;
  }
  const segments = cleaned.split('/').filter((s) => s && s !== '.');
  return segments.length > 0 && !path.isAbsolute(cleaned) && !segments.includes('..')
    && modelPath.endsWith(path.sep + segments.join(path.sep));
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Steps up from `from` to the common ancestor plus steps down to `to`. */
function folderSteps(from: string, to: string): number {
  const rel = path.relative(from, to);
  if (rel === '') return 0;
  return rel.split(path.sep).length;
}
