// The workspace's layer definitions, by layer name, and the ranking that picks the definition
// belonging to the file that produced the active model. Pure: the caller reads files and passes text.
import * as path from 'node:path';
import { modelFileKind } from '../../protocol/formats';
import { linkByCreationOrder, scanKerasAutoCalls, type ModelLayerRef } from './kerasNames';
import { scanPython } from './python';
import { TorchWorkspace, type ModuleResolution } from './pytorch';
import { scanTfjs } from './tfjs';
import type { FileScan, LayerDefinition, LayerFramework, PathMention, RankedDefinition } from './types';
import type { ModelFormat } from '../../protocol/types';

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
  /** The active model's file (model.json, model.onnx, …). */
  modelPath: string;
  /** Where relative paths in scripts are resolved besides the script's own folder (scripts usually run from here). */
  workspaceRoot?: string;
  /** The active model's layers: unnamed Keras layers in scripts are linked to them by creation order. */
  modelLayers?: readonly ModelLayerRef[];
  /** The frameworks that can have written the model (a TF.js model.json never comes from PyTorch code); default all. */
  frameworks?: readonly LayerFramework[];
}

/** Which code can have produced a model of each format. */
export function frameworksFor(format: ModelFormat): LayerFramework[] {
  switch (format) {
    case 'layers': case 'graph': return ['tfjs', 'keras'];
    case 'keras': return ['keras'];
    case 'onnx': return ['pytorch', 'keras'];
    default: return ['tfjs', 'keras', 'pytorch'];
  }
}

export class LayerIndex {
  private readonly files = new Map<string, FileScan>();
  private readonly byName = new Map<string, LayerDefinition[]>();
  /** Per file, its creation-order links to the last model layers asked about (recomputed when they change). */
  private readonly orderLinks = new Map<string, { layers: readonly ModelLayerRef[]; byLayer: Map<string, LayerDefinition> }>();
  private torchWorkspace: TorchWorkspace | undefined;

  /** (Re)indexes one file; returns its definitions. */
  update(file: string, text: string): LayerDefinition[] {
    this.remove(file);
    if (!isIndexable(file) || text.length > MAX_INDEXED_BYTES) return [];
    const scan = scanFile(file, text);
    this.add(file, scan);
    return scan.definitions;
  }

  remove(file: string): void {
    const old = this.files.get(file);
    if (!old) return;
    this.files.delete(file);
    this.orderLinks.delete(file);
    this.torchWorkspace = undefined;
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
    this.torchWorkspace = undefined;
  }

  /**
   * This index with `file` read from `text` instead (an editor's unsaved text); the other files'
   * scans are shared, not copied.
   */
  withFile(file: string, text: string): LayerIndex {
    const view = new LayerIndex();
    for (const [f, scan] of this.files) if (f !== file) view.add(f, scan);
    if (isIndexable(file) && text.length <= MAX_INDEXED_BYTES) view.add(file, scanFile(file, text));
    return view;
  }

  /** Definitions in one file, in source order (for CodeLenses). */
  definitionsIn(file: string): LayerDefinition[] {
    return this.files.get(file)?.definitions ?? [];
  }

  /** Every indexed file with its scan. */
  scans(): IterableIterator<[string, FileScan]> {
    return this.files.entries();
  }

  /** The scan of one indexed file. */
  scanOf(file: string): FileScan | undefined {
    return this.files.get(file);
  }

  /** The workspace's Python files as the PyTorch resolver reads them (built on first use after a change). */
  torch(): TorchWorkspace {
    this.torchWorkspace ??= new TorchWorkspace([...this.files].flatMap(([file, scan]) => (scan.python ? [{ file, module: scan.python }] : [])));
    return this.torchWorkspace;
  }

  /**
   * Every definition of `layerName`: Keras / TF.js layers that spell the name, and PyTorch module paths
   * (`layer4.1.conv2`) followed through the module tree (pytorch.ts). `owner/Op` names an operation
   * written in the forward() of module `owner` (an ONNX export's ops that belong to no sub-module).
   */
  lookup(layerName: string, modelLayers?: readonly ModelLayerRef[], frameworks?: readonly LayerFramework[]): LayerDefinition[] {
    const allowed = (d: LayerDefinition): boolean => !frameworks || frameworks.includes(d.framework);
    const named = (this.byName.get(layerName) ?? []).filter((d) => d.framework !== 'pytorch' && allowed(d));
    const byOrder = (modelLayers ? this.byCreationOrder(layerName, modelLayers) : []).filter(allowed);
    if (frameworks && !frameworks.includes('pytorch')) return [...named, ...byOrder];
    const slash = layerName.lastIndexOf('/');
    const resolutions = slash >= 0
      ? this.torch().resolveForward(layerName.slice(0, slash).replace(/^\/+/, ''))
      : isModulePath(layerName) ? this.torch().resolve(layerName) : [];
    return [...named, ...byOrder, ...resolutions.map((r) => definitionOf(layerName, r))];
  }

  /** `lookup(layerName)` ordered best first, each with the reason for its place. */
  rank(layerName: string, context: RankContext): RankedDefinition[] {
    const ranked = rankDefinitions(this.lookup(layerName, context.modelLayers, context.frameworks), (file) => this.files.get(file)?.mentions ?? [], context);
    // A library-built model links every path to its construction line: only when its script names the model, or nothing else links.
    const kept = ranked.filter((r) => !r.definition.library || r.tier >= 2);
    return kept.length ? kept : ranked;
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

  private add(file: string, scan: FileScan): void {
    this.files.set(file, scan);
    this.torchWorkspace = undefined;
    for (const d of scan.definitions) {
      const list = this.byName.get(d.name);
      if (list) list.push(d);
      else this.byName.set(d.name, [d]);
    }
  }
}

/** Dotted identifiers and indices, as `named_modules()` spells them (`features.18.0`, `layer1.0.relu`). */
function isModulePath(name: string): boolean {
  return /^[A-Za-z_0-9]+(\.[A-Za-z_0-9]+)*$/.test(name);
}

function definitionOf(name: string, r: ModuleResolution): LayerDefinition {
  const { site } = r;
  return {
    name, file: site.file, line: site.line, column: site.column, nameLine: site.nameLine, nameColumn: site.nameColumn,
    nameLength: site.nameLength, framework: 'pytorch', className: r.className, trail: r.trail, via: r.via, preference: r.preference,
    ...(r.caveat ? { caveat: r.caveat } : {}), ...(r.library ? { library: r.library } : {}),
  };
}

/**
 * Orders definitions by how sure we are that their file produced the model at `context.modelPath`:
 *  3. the file passes a path naming the model to a saving call (`model.save(...)`, `save_keras_model(...)`,
 *     `saveLayersModel`, `torch.onnx.export(model, x, "model.onnx")`, `torch.save(...)`, ...);
 *  2. the file mentions that path in any other string (e.g. `OUT_DIR = "demo/digits/model"`), or, for a
 *     model that is one file (ONNX, Keras), saves a PyTorch checkpoint into the model's folder;
 *  1. otherwise, the file that sits fewest folder steps from the model.
 * A PyTorch definition also counts the files in its `via` (the script that builds and exports the
 * model whose class it is). Within a tier, the definition's `preference` first (exported model before
 * a class that merely fits), then fewer folder steps, then the path alphabetically. A string names a
 * TF.js model when, with any `file://` removed, it resolves (against the file's folder or the workspace
 * root) to the model's folder, its model.json or a file inside that folder; any other model only when
 * it resolves to the model's file itself. A string with several segments also names the model when
 * the model's path ends with them.
 */
export function rankDefinitions(
  definitions: LayerDefinition[],
  mentionsOf: (file: string) => PathMention[],
  context: RankContext,
): RankedDefinition[] {
  const modelPath = path.resolve(context.modelPath);
  const root = context.workspaceRoot ? path.resolve(context.workspaceRoot) : undefined;
  const show = (file: string): string => (root ? path.relative(root, file) || path.basename(file) : file);
  const modelShown = show(modelPath);

  const ranked = definitions.map((definition) => {
    const files = [definition.file, ...(definition.via ?? []).filter((f) => f !== definition.file)];
    const distance = Math.min(...files.map((f) => folderSteps(path.dirname(path.resolve(f)), path.dirname(modelPath))));
    let best: { tier: 1 | 2 | 3; reason: string } | undefined;
    for (const file of files) {
      const found = fileTier(file, mentionsOf(file), modelPath, root, show, modelShown);
      if (found && (!best || found.tier > best.tier)) {
        const defined = file === definition.file ? '' : `; ${show(definition.file)} defines the module`;
        best = { tier: found.tier, reason: found.reason + defined };
      }
    }
    const tier = best?.tier ?? 1;
    const steps = (f: string) => folderSteps(path.dirname(path.resolve(f)), path.dirname(modelPath));
    const nearest = files.reduce((a, f) => (steps(f) < steps(a) ? f : a));
    const reason = best?.reason ?? `no script names ${modelShown}; ${show(nearest)} is ${distance} folder step${distance === 1 ? '' : 's'} from ${modelShown}`;
    return { definition, score: tier * 1000 - distance, tier, reason, distance };
  });
  return ranked
    .sort((a, b) => b.tier - a.tier
      || (b.definition.preference ?? 0) - (a.definition.preference ?? 0)
      || a.distance - b.distance
      || a.definition.file.localeCompare(b.definition.file)
      || a.definition.line - b.definition.line)
    .map(({ distance: _distance, ...r }) => r);
}

/** The best tier one file's strings give, with the reason. */
function fileTier(file: string, mentions: PathMention[], modelPath: string, root: string | undefined,
  show: (f: string) => string, modelShown: string): { tier: 2 | 3; reason: string } | undefined {
  let saved: PathMention | undefined;
  let mentioned: PathMention | undefined;
  let besideSaved: PathMention | undefined;
  for (const m of mentions) {
    const names = namesModel(m.value, file, modelPath, root);
    if (names === 'model') {
      if (m.saveCall && !saved) saved = m;
      if (!mentioned) mentioned = m;
    } else if (names === 'beside' && m.saveCall && !besideSaved) {
      besideSaved = m;
    }
  }
  const shown = show(file);
  if (saved) {
    const verb = /export$/.test(saved.saveCall!) ? 'exports' : 'saves';
    return { tier: 3, reason: `${shown} ${verb} the model: ${saved.saveCall}("${saved.value}") on line ${saved.line + 1} names ${modelShown}` };
  }
  if (mentioned) return { tier: 2, reason: `${shown} mentions "${mentioned.value}" on line ${mentioned.line + 1}, which names ${modelShown}` };
  if (besideSaved) {
    return { tier: 2, reason: `${shown} saves "${besideSaved.value}" beside ${modelShown} (${besideSaved.saveCall} on line ${besideSaved.line + 1})` };
  }
  return undefined;
}

/**
 * Whether a string names the model: 'model' when it is the model (for TF.js: its folder, model.json or a
 * shard); 'beside' when it is a checkpoint in the folder of a one-file model (ONNX, Keras).
 */
export function namesModel(value: string, file: string, modelPath: string, root: string | undefined): 'model' | 'beside' | undefined {
  const cleaned = value.replace(/^file:\/\//, '').replace(/\\/g, '/').replace(/\/+$/, '');
  if (!cleaned || cleaned === '.') return undefined;
  const modelDir = path.dirname(modelPath);
  const folderModel = path.basename(modelPath).toLowerCase() === 'model.json';
  const bases = [path.dirname(path.resolve(file)), ...(root ? [root] : [])];
  let beside = false;
  for (const base of bases) {
    const resolved = path.resolve(base, cleaned);
    if (resolved === modelPath) return 'model';
    if (resolved === modelDir || isInside(resolved, modelDir)) {
      if (folderModel) return 'model';
      // A checkpoint written beside the model (another model file there is another model).
      if (path.dirname(resolved) === modelDir && modelFileKind(resolved) === 'checkpoint') beside = true;
    }
  }
  // A multi-segment relative path run from an unknown working directory: compare tails.
  const segments = cleaned.split('/').filter((s) => s && s !== '.');
  // A one-file model's own name (`model.save("mnist_cnn.keras")`) is enough: the script may run from anywhere.
  if (segments.length >= (folderModel ? 2 : 1) && !path.isAbsolute(cleaned) && !segments.includes('..')) {
    const tail = segments.join(path.sep);
    if (modelPath.endsWith(path.sep + tail) || (folderModel && modelDir.endsWith(path.sep + tail))) return 'model';
  }
  return beside ? 'beside' : undefined;
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
