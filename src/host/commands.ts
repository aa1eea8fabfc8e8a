/**
 * The extension's commands. Each one starts the worker if needed (the client does so lazily) and
 * turns failures into error notifications: a LoupeError's message names the file and what to do.
 */
import * as vscode from 'vscode';
import { CancelledError, LoupeError } from '../protocol/errors';
import type { LayerInfo } from '../protocol/types';
import { EXCLUDED_GLOB } from './codeIndex';
import type { LoupeContext } from './context';
import { isSpatial, layerPickItem, layerSummary, shortModelName } from './format';
import type { LoupeServices } from './loupeContext';
import { dissectLayer, openDissection } from './panels/dissectPanel';
import { openExportSnippet } from './models/exportCheckpoint';
import { explainImage } from './panels/explainPanel';
import { showTcavResults, testConcepts } from './tcav/command';
import { showErrorWithLog } from './panels/workerTask';
import { isExport } from './exports/exportFolder';
import { LayerItem, UnitItem, type LayersProvider } from './views/layersView';

const IMAGE_GLOB = '**/*.{png,jpg,jpeg,PNG,JPG,JPEG}';
const IMAGE_EXT = /\.(png|jpe?g)$/i;
const MAX_IMAGES_LISTED = 500;

export function registerCommands(services: LoupeServices, layers: LayersProvider): vscode.Disposable[] {
  const { ctx, models } = services;
  const command = (id: string, fn: (...args: unknown[]) => Promise<unknown>): vscode.Disposable =>
    vscode.commands.registerCommand(id, (...args: unknown[]) => run(ctx, id, () => fn(...args)));

  return [
    command('loupe.explainImage', async (arg, all) => {
      const image = uriArg(arg, all) ?? activeImage() ?? (await pickImage(ctx, 'Image to explain'));
      if (!image) return;
      if (!IMAGE_EXT.test(image.path)) throw new LoupeError('IMAGE_INVALID', 'Loupe explains PNG and JPEG images', image.fsPath, 'pick a .png, .jpg or .jpeg file');
      await requireModel(ctx);
      ctx.images.remember(image);
      await explainImage(ctx, image);
    }),

    command('loupe.selectModel', async (arg) => {
      let uri = uriArg(arg);
      if (!uri) {
        if (models.list().length === 0) await models.refresh();
        const items = models.list().map((m) => ({
          label: `${models.isActive(m) ? '$(pass-filled) ' : ''}${shortModelName(vscode.workspace.asRelativePath(m, true))}`,
          description: vscode.workspace.asRelativePath(m, true),
          uri: m,
        }));
        if (items.length === 0) throw noModelError();
        uri = (await vscode.window.showQuickPick(items, { title: 'Loupe: active model', placeHolder: 'Models in this workspace (TF.js, ONNX, Keras)' }))?.uri;
        if (!uri) return;
      }
      await models.setActive(uri);
      // Describe now so that a broken model is reported when it is picked, not later in a view.
      await models.describe(uri);
    }),

    command('loupe.refreshModels', async () => {
      models.invalidate();
      await models.refresh();
      layers.refresh();
    }),

    command('loupe.showLog', async () => ctx.log.show()),

    command('loupe.restartWorker', async () => {
      const backend = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Loupe: restarting the worker…' },
        () => services.restartWorker());
      layers.refresh();
      void vscode.window.showInformationMessage(`Loupe: worker restarted (backend ${backend}).`);
    }),

    command('loupe.revealLayer', async (arg) => {
      // A line that stands for several layers (a block's line, a reused module) passes them all: pick one.
      const name = Array.isArray(arg)
        ? (await vscode.window.showQuickPick(arg.filter((a): a is string => typeof a === 'string'), { title: 'Loupe: layer to show in the Layers view' }))
        : layerName(arg);
      if (name && !(await layers.reveal(name))) {
        void vscode.window.showInformationMessage(`Loupe: the active model has no layer named "${name}".`);
      }
    }),

    command('loupe.goToLayerDefinition', async (arg) => {
      const name = layerName(arg) ?? (await pickLayer(ctx, 'Layer whose definition to open', () => true))?.name;
      if (name) await ctx.codeLinks.open(name);
    }),

    command('loupe.gradcamAtLayer', async (arg) => {
      await requireModel(ctx);
      const description = await ctx.describeActive();
      let name = layerName(arg);
      if (!name) name = (await pickLayer(ctx, 'Layer for Grad-CAM', isSpatial))?.name;
      if (!name || !description) return;
      const layer = description.layers.find((l) => l.name === name);
      if (!layer) throw new LoupeError('BAD_REQUEST', `the model has no layer named "${name}"`, description.path);
      if (!isSpatial(layer)) {
        throw new LoupeError('BAD_REQUEST', `layer "${name}" outputs ${layer.outputShape.length}-D values; Grad-CAM needs a spatial (H×W×C) layer`,
          description.path, 'pick a convolution or pooling layer');
      }
      const image = await pickImage(ctx, `Image for Grad-CAM at ${name}`);
      if (!image) return;
      ctx.images.remember(image);
      await explainImage(ctx, image, { layer: name });
    }),

    command('loupe.dissectLayer', async (arg) => {
      await requireModel(ctx);
      const description = await ctx.describeActive();
      const name = layerName(arg) ?? (await pickLayer(ctx, 'Layer to dissect', (l) => isSpatial(l) && l.className !== 'InputLayer'))?.name;
      const model = ctx.activeModel();
      if (!name || !description || !model) return;
      const layer = description.layers.find((l) => l.name === name);
      if (!layer) throw new LoupeError('BAD_REQUEST', `the model has no layer named "${name}"`, description.path);
      if (!isSpatial(layer) || layer.className === 'InputLayer') {
        throw new LoupeError('BAD_REQUEST', `layer "${name}" outputs ${layer.outputShape.length}-D values; network dissection needs a spatial (H×W×C) layer`,
          description.path, 'pick a convolution, activation or pooling layer');
      }
      await dissectLayer(ctx, model.uri.fsPath, name);
    }),

    // From a unit in the Layers view, the CodeLens or a hover: (layer, modelPath?, unit?). From the palette: a pick of dissected layers.
    command('loupe.openDissection', async (arg, modelArg, unitArg) => {
      await requireModel(ctx);
      const modelPath = typeof modelArg === 'string' ? modelArg : ctx.activeModel()!.uri.fsPath;
      const unit = arg instanceof UnitItem ? arg.unit.unit : typeof unitArg === 'number' && Number.isInteger(unitArg) ? unitArg : undefined;
      let name = arg instanceof UnitItem ? arg.parent.layer.name : layerName(arg);
      if (!name) {
        const known = await services.dissections.load(modelPath);
        if (known.length === 0) {
          void vscode.window.showInformationMessage('Loupe: no layer of the active model has been dissected yet: right-click a layer in the Layers view and pick "Dissect This Layer".');
          return;
        }
        name = (await vscode.window.showQuickPick(known.map((s) => ({ ...layerPickItem({ name: s.layer }), description: `${s.interpretable}/${s.units.length} units interpretable · ${s.probe.name}`, layer: s.layer })),
          { title: 'Loupe: dissection to open' }))?.layer;
        if (!name) return;
      }
      await openDissection(ctx, modelPath, name, unit);
    }),

    // ---- TCAV ----
    // From the Explorer (the folder of class images) or the palette.
    command('loupe.testConcepts', async (arg, all) => {
      await requireModel(ctx);
      const description = await ctx.describeActive();
      const model = ctx.activeModel();
      if (!description || !model) return;
      await testConcepts(ctx, services.tcav, description, model.uri.fsPath, uriArg(arg, all));
    }),

    // From the CodeLens: (modelPath, key). From the palette: a pick of the active model's results.
    command('loupe.openTcav', async (modelArg, keyArg) => {
      await requireModel(ctx);
      const modelPath = typeof modelArg === 'string' ? modelArg : ctx.activeModel()!.uri.fsPath;
      await showTcavResults(ctx, services.tcav, modelPath, typeof keyArg === 'string' ? keyArg : undefined);
    }),
    // ---- end TCAV ----

    // ---- PyTorch / ONNX models (issue 8): loupe.json for models that carry no preprocessing; checkpoints to export ----
    command('loupe.createSidecar', async () => ctx.createSidecar()),

    command('loupe.exportCheckpoint', async (arg) => {
      let uri = uriArg(arg);
      if (!uri) {
        if (models.checkpoints().length === 0) await models.refresh();
        const items = models.checkpoints().map((c) => ({ label: vscode.workspace.asRelativePath(c, true), uri: c }));
        if (items.length === 0) {
          void vscode.window.showInformationMessage('Loupe: no PyTorch checkpoint (.pt, .pth, .ckpt) in this workspace.');
          return;
        }
        uri = (await vscode.window.showQuickPick(items, { title: 'Loupe: checkpoint to export to ONNX' }))?.uri;
        if (!uri) return;
      }
      await openExportSnippet(uri, services.indexer, models, ctx.log);
    }),
  ];
}

/** Runs a command body; reports what went wrong the way the user can act on it. */
export async function run(ctx: LoupeContext, id: string, body: () => Promise<unknown>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof CancelledError) {
      ctx.log.info(`${id}: cancelled`);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    ctx.log.error(`${id} failed: ${err instanceof Error && !(err instanceof LoupeError) ? err.stack ?? message : message}`);
    await showErrorWithLog(ctx, `Loupe: ${message}`);
  }
}

async function requireModel(ctx: LoupeContext): Promise<void> {
  if (!ctx.activeModel()) throw noModelError();
}

function noModelError(): LoupeError {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return new LoupeError('MODEL_NOT_FOUND', 'no model (a TF.js model.json, an .onnx, .keras or .h5 file) was found in this workspace', folder,
    'open a folder that contains one (PyTorch: torch.onnx.export(model, x, "model.onnx")), then run "Loupe: Refresh Models"');
}

/** The image the command was invoked on: Explorer passes (clicked, selection), editor/title passes the resource. */
function uriArg(arg: unknown, all?: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (Array.isArray(all) && all[0] instanceof vscode.Uri) return all[0];
  return undefined;
}

/** The image shown in the active editor (VS Code's image preview is a custom editor). */
function activeImage(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom && IMAGE_EXT.test(input.uri.path)) return input.uri;
  const editor = vscode.window.activeTextEditor?.document.uri;
  return editor && IMAGE_EXT.test(editor.path) ? editor : undefined;
}

function layerName(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof LayerItem) return arg.layer.name;
  return undefined;
}

async function pickImage(ctx: LoupeContext, title: string): Promise<vscode.Uri | undefined> {
  type Item = vscode.QuickPickItem & { uri?: vscode.Uri };
  const seen = new Set<string>();
  const items: Item[] = [];
  const add = (uri: vscode.Uri, description?: string): void => {
    if (seen.has(uri.toString())) return;
    seen.add(uri.toString());
    items.push({ label: vscode.workspace.asRelativePath(uri, true), ...(description ? { description } : {}), uri });
  };
  const last = ctx.images.last();
  if (last) add(last, 'last explained');
  const open = activeImage();
  if (open) add(open, 'open in the editor');
  const found = await vscode.workspace.findFiles(IMAGE_GLOB, EXCLUDED_GLOB, MAX_IMAGES_LISTED);
  // Exported maps are pictures of maps, not images to explain.
  found.filter((u) => !isExport(u)).sort((a, b) => a.path.localeCompare(b.path)).forEach((u) => add(u));
  items.push({ label: '$(folder-opened) Browse…', alwaysShow: true });
  const picked = await vscode.window.showQuickPick(items, { title: `Loupe: ${title}`, placeHolder: 'PNG or JPEG image', matchOnDescription: true });
  if (!picked) return undefined;
  if (picked.uri) return picked.uri;
  const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Images: ['png', 'jpg', 'jpeg'] }, title: `Loupe: ${title}` });
  return chosen?.[0];
}

async function pickLayer(ctx: LoupeContext, title: string, filter: (l: LayerInfo) => boolean): Promise<LayerInfo | undefined> {
  await requireModel(ctx);
  const description = await ctx.describeActive();
  if (!description) return undefined;
  const items = description.layers.filter(filter).map((l) => ({
    ...layerPickItem(l, l.name === description.defaultCamLayer ? 'Grad-CAM default (last convolutional layer)' : undefined),
    description: layerSummary(l, description.layout),
    layer: l,
  }));
  return (await vscode.window.showQuickPick(items, { title: `Loupe: ${title}`, matchOnDescription: true, matchOnDetail: true }))?.layer;
}
