/**
 * Commands of feature visualisation and the Building Blocks: "Visualize Unit" (Layers view: a unit, or a
 * layer then a unit; the Dissection panel; the palette) and "Building Blocks" (an image, then a layer).
 */
import * as vscode from 'vscode';
import { LoupeError } from '../../protocol/errors';
import type { LayerInfo } from '../../protocol/types';
import { run } from '../commands';
import { isSpatial, layerPickItem, layerSummary } from '../format';
import type { LoupeServices } from '../loupeContext';
import { openBuildingBlocks } from '../panels/blocksPanel';
import { visualizeUnit } from '../panels/featureVisPanel';
import { LayerItem, UnitItem } from '../views/layersView';

const IMAGE_EXT = /\.(png|jpe?g)$/i;

/** Layers whose units can be pictured: H×W×C or flat outputs, not the input. */
export function hasUnits(layer: LayerInfo): boolean {
  return layer.className !== 'InputLayer' && (layer.outputShape.length === 3 || layer.outputShape.length === 1);
}

export function registerFeatureVisCommands(services: LoupeServices): vscode.Disposable[] {
  const { ctx, featureVis } = services;
  const command = (id: string, fn: (...args: unknown[]) => Promise<unknown>): vscode.Disposable =>
    vscode.commands.registerCommand(id, (...args: unknown[]) => run(ctx, id, () => fn(...args)));

  const activeModel = async () => {
    const model = ctx.activeModel();
    const description = await ctx.describeActive();
    if (!model || !description) throw new LoupeError('MODEL_NOT_FOUND', 'no active model', undefined, 'pick a model in the Models view');
    return { modelPath: model.uri.fsPath, description };
  };

  const pickLayer = async (title: string, filter: (l: LayerInfo) => boolean): Promise<LayerInfo | undefined> => {
    const { description } = await activeModel();
    const items = description.layers.filter(filter).map((l) => ({ ...layerPickItem(l), description: layerSummary(l), layer: l }));
    return (await vscode.window.showQuickPick(items, { title: `Loupe: ${title}`, matchOnDescription: true, matchOnDetail: true }))?.layer;
  };

  const pickUnit = async (modelPath: string, layer: LayerInfo): Promise<number | undefined> => {
    const channels = layer.outputShape.at(-1) ?? 0;
    const dissection = ctx.dissections.get(modelPath, layer.name);
    const items = Array.from({ length: channels }, (_, unit) => {
      const d = dissection?.units.find((u) => u.unit === unit);
      const pictured = featureVis.get(modelPath, layer.name, unit) !== undefined;
      return {
        label: `unit ${unit}`,
        description: [d ? `${d.label} (${d.category}) · IoU ${d.iou.toFixed(3)}` : '', pictured ? '$(file-media) pictured' : ''].filter(Boolean).join(' · '),
        unit,
      };
    });
    return (await vscode.window.showQuickPick(items, { title: `Loupe: unit of ${layerPickItem(layer).label} to visualize`, matchOnDescription: true }))?.unit;
  };

  return [
    // From a unit in the Layers view, a layer (then a unit), the Dissection panel (layer, modelPath, unit) or the palette.
    command('loupe.visualizeUnit', async (arg, modelArg, unitArg) => {
      const { modelPath: active, description } = await activeModel();
      const modelPath = typeof modelArg === 'string' ? modelArg : active;
      if (arg instanceof UnitItem) {
        await visualizeUnit(ctx, featureVis, modelPath, arg.parent.layer.name, arg.unit.unit);
        return;
      }
      const name = arg instanceof LayerItem ? arg.layer.name : typeof arg === 'string' ? arg : undefined;
      const layer = name ? description.layers.find((l) => l.name === name) : await pickLayer('layer to visualize a unit of', hasUnits);
      if (!layer) {
        if (name) throw new LoupeError('BAD_REQUEST', `the model has no layer named "${name}"`, description.path);
        return;
      }
      if (!hasUnits(layer)) {
        throw new LoupeError('BAD_REQUEST', `layer "${layer.name}" has no units to visualize`, description.path, 'pick a convolution, activation, pooling or dense layer');
      }
      const unit = typeof unitArg === 'number' && Number.isInteger(unitArg) ? unitArg : await pickUnit(modelPath, layer);
      if (unit === undefined) return;
      await visualizeUnit(ctx, featureVis, modelPath, layer.name, unit);
    }),

    command('loupe.buildingBlocks', async (arg, all) => {
      const image = arg instanceof vscode.Uri ? arg : Array.isArray(all) && all[0] instanceof vscode.Uri ? all[0] : undefined;
      const picked = image ?? (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Images: ['png', 'jpg', 'jpeg'] }, title: 'Loupe: image for the Building Blocks' }))?.[0];
      if (!picked) return;
      if (!IMAGE_EXT.test(picked.path)) throw new LoupeError('IMAGE_INVALID', 'Loupe reads PNG and JPEG images', picked.fsPath, 'pick a .png, .jpg or .jpeg file');
      const { modelPath } = await activeModel();
      const layer = await pickLayer(`layer for the Building Blocks of ${vscode.workspace.asRelativePath(picked, false)}`, (l) => isSpatial(l) && l.className !== 'InputLayer');
      if (!layer) return;
      ctx.images.remember(picked);
      await openBuildingBlocks(ctx, featureVis, modelPath, picked.fsPath, layer.name);
    }),
  ];
}
