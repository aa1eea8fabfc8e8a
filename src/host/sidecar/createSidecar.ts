/**
 * "Loupe: Create loupe.json for the Active Model": a quick pick of common preprocessings, an optional
 * labels file from the model's folder and, for a model whose input size is symbolic, H and W; then
 * loupe.json is written beside the model (atomically; an existing file only after the user agrees)
 * and the model is described again.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelDescription, Preprocessing } from '../../protocol/types';
import type { ModelStore } from '../models/modelStore';
import { needsSidecarSize } from './sidecarErrors';
import {
  exists, labelFileCandidates, parseNumbers, parseSize, SIDECAR_PRESETS, SidecarExistsError, sidecarPathOf, sidecarText,
  withSize, writeSidecarFile, type SidecarContent,
} from './sidecarFile';

export interface CreateSidecarOptions {
  /** The model (default: the active one). */
  modelPath?: string;
  /** Ask for the input size (the engine could not read it from the model). */
  askSize?: boolean;
}

const TITLE = 'Loupe: loupe.json';

/** Runs the flow; resolves true when loupe.json was written. */
export async function createSidecar(models: ModelStore, log: vscode.LogOutputChannel, options: CreateSidecarOptions = {}): Promise<boolean> {
  const modelPath = options.modelPath ?? models.active()?.uri.fsPath;
  if (!modelPath) {
    void vscode.window.showInformationMessage('Loupe: no active model: pick one in the Models view first.');
    return false;
  }
  const shown = vscode.workspace.asRelativePath(modelPath, false);
  let description: ModelDescription | undefined;
  let askSize = options.askSize ?? false;
  try {
    description = await models.describe(vscode.Uri.file(modelPath));
  } catch (err) {
    if (needsSidecarSize((err as Error).message)) askSize = true;
    log.info(`loupe.json for ${modelPath}: the model could not be described (${(err as Error).message})`);
  }
  const file = sidecarPathOf(modelPath);
  const existing = await exists(file);

  if (askSize && existing) return addSize(models, log, modelPath, file, shown);
  if (existing) {
    const choice = await vscode.window.showWarningMessage(`${path.basename(file)} already exists beside ${shown}. Replace it?`,
      { modal: true, detail: 'Loupe writes a new file with the preprocessing and labels you pick next; the old one is replaced as a whole.' },
      'Replace', 'Open It');
    if (choice === 'Open It') await vscode.window.showTextDocument(vscode.Uri.file(file));
    if (choice !== 'Replace') return false;
  }

  const size = askSize ? await askForSize(shown) : undefined;
  if (askSize && !size) return false;
  const channels = description?.inputShape[2];
  const input = await pickPreprocessing(channels);
  if (!input) return false;
  const labels = await pickLabels(modelPath, description?.numClasses);
  if (labels === null) return false;

  const content: SidecarContent = {
    input: {
      ...(size ? { size } : {}),
      ...input,
      ...(channels === 3 && !input.channels ? { channels: 'rgb' as const } : channels === 1 ? { channels: 'gray' as const } : {}),
    },
    ...(labels ? { labels } : {}),
  };
  return write(models, log, modelPath, file, sidecarText(content), existing);
}

async function addSize(models: ModelStore, log: vscode.LogOutputChannel, modelPath: string, file: string, shown: string): Promise<boolean> {
  const size = await askForSize(shown);
  if (!size) return false;
  let text: string;
  try {
    text = withSize(await fs.readFile(file, 'utf8'), size);
  } catch (err) {
    void vscode.window.showErrorMessage(`Loupe: cannot add "size" to ${file}: ${(err as Error).message}. Fix or delete it, then run this again.`);
    return false;
  }
  const choice = await vscode.window.showWarningMessage(`Add "size": [${size.join(', ')}] to the existing ${path.basename(file)} of ${shown}?`,
    { modal: true, detail: 'Its other keys are kept.' }, 'Add');
  if (choice !== 'Add') return false;
  return write(models, log, modelPath, file, text, true);
}

async function write(models: ModelStore, log: vscode.LogOutputChannel, modelPath: string, file: string, text: string, overwrite: boolean): Promise<boolean> {
  try {
    await writeSidecarFile(file, text, { overwrite });
  } catch (err) {
    if (err instanceof SidecarExistsError) {
      void vscode.window.showWarningMessage(`Loupe: ${path.basename(file)} appeared beside the model meanwhile; it was left as it is. Run the command again to replace it.`);
      return false;
    }
    throw err;
  }
  log.info(`wrote ${file}: ${text.replace(/\s+/g, ' ').trim()}`);
  models.filesChanged(modelPath);
  void vscode.window.showInformationMessage(`Loupe: wrote ${vscode.workspace.asRelativePath(file, false)}.`, 'Open It').then((c) => {
    if (c) void vscode.window.showTextDocument(vscode.Uri.file(file));
  });
  return true;
}

async function askForSize(shown: string): Promise<[number, number] | undefined> {
  const text = await vscode.window.showInputBox({
    title: TITLE,
    ignoreFocusOut: true,
    prompt: `The input height and width of ${shown} are symbolic in the file (dynamic axes): the size to feed it, as H, W`,
    placeHolder: '224, 224',
    value: '224, 224',
    validateInput: (v) => (parseSize(v) ? undefined : 'Two whole numbers, height then width, e.g. 224, 224'),
  });
  return text === undefined ? undefined : parseSize(text);
}

type PresetItem = vscode.QuickPickItem & { input?: Partial<Preprocessing> };

async function pickPreprocessing(channels: number | undefined): Promise<Partial<Preprocessing> | undefined> {
  const items: PresetItem[] = SIDECAR_PRESETS.filter((p) => !(p.colourOnly && channels === 1)).map((p) => ({
    label: p.label, detail: p.detail, input: { range: p.input.range, mean: p.input.mean, std: p.input.std },
  }));
  items.push({ label: 'Custom…', detail: 'range, mean and std of your own (x = ((pixel/255)·(max−min) + min − mean) / std)' });
  const picked = await vscode.window.showQuickPick(items, {
    title: `${TITLE}: how were the training images fed to the model?`,
    // The user may look up the training transforms meanwhile: focus elsewhere keeps the pick open.
    ignoreFocusOut: true,
    placeHolder: 'As in the training script\'s transforms: ToTensor() gives [0, 1], then Normalize(mean, std)',
    matchOnDetail: true,
  });
  if (!picked) return undefined;
  return picked.input ?? askCustom(channels);
}

async function askCustom(channels: number | undefined): Promise<Partial<Preprocessing> | undefined> {
  const per = channels === 1 ? '1 number' : `1 or ${channels ?? 3} numbers`;
  const rangeText = await vscode.window.showInputBox({
    title: `${TITLE}: range`, ignoreFocusOut: true, prompt: 'The values pixel 0 and pixel 255 become before mean/std: min, max', value: '0, 1',
    validateInput: (v) => { const r = parseNumbers(v, 2); return r && r.length === 2 && r[0]! < r[1]! ? undefined : 'Two numbers, min < max, e.g. 0, 1'; },
  });
  if (rangeText === undefined) return undefined;
  const meanText = await vscode.window.showInputBox({
    title: `${TITLE}: mean`, ignoreFocusOut: true, prompt: `Subtracted after the range (${per})`, value: '0',
    validateInput: (v) => (parseNumbers(v, channels) ? undefined : `${per}, e.g. 0.5, 0.5, 0.5`),
  });
  if (meanText === undefined) return undefined;
  const stdText = await vscode.window.showInputBox({
    title: `${TITLE}: std`, ignoreFocusOut: true, prompt: `Divides after the mean (${per}, none 0)`, value: '1',
    validateInput: (v) => (parseNumbers(v, channels, true) ? undefined : `${per}, none of them 0`),
  });
  if (stdText === undefined) return undefined;
  const range = parseNumbers(rangeText, 2)!;
  const input: Partial<Preprocessing> = { range: [range[0]!, range[1]!], mean: parseNumbers(meanText, channels)!, std: parseNumbers(stdText, channels, true)! };
  if (channels === 3) {
    const order = await vscode.window.showQuickPick([
      { label: 'rgb', detail: 'PIL, torchvision, TF.js' },
      { label: 'bgr', detail: 'OpenCV (cv2.imread) without a conversion' },
    ], { title: `${TITLE}: channel order`, ignoreFocusOut: true });
    if (!order) return undefined;
    input.channels = order.label as 'rgb' | 'bgr';
  }
  return input;
}

/** The labels file chosen (a name in the model's folder), '' for none, null when the user cancelled. */
async function pickLabels(modelPath: string, numClasses: number | undefined): Promise<string | null> {
  const candidates = await labelFileCandidates(modelPath).catch(() => []);
  const none = { label: 'No labels file', detail: `classes are named "class 0", "class 1", …${candidates.some((c) => c.name === 'labels.txt') ? ' (labels.txt beside the model is still read when loupe.json names none)' : ''}`, name: '' };
  if (candidates.length === 0) return '';
  const items = [...candidates.map((c) => ({
    label: c.name,
    description: numClasses === undefined ? `${c.lines} lines` : c.lines === numClasses ? `${c.lines} lines, one per class` : `${c.lines} lines, but the model has ${numClasses} classes`,
    name: c.name,
  })), none];
  const picked = await vscode.window.showQuickPick(items, { title: `${TITLE}: class names (one per line, in class-index order)`, ignoreFocusOut: true });
  return picked ? picked.name : null;
}
