/**
 * "Loupe: Test Concepts (TCAV)…": from a folder of class images (the Explorer's folder, or picked), the
 * class (labels; the folder's name preselects a label), concepts (built-in and folders), random images,
 * layers (a few spread through the network preselected) and runs; then the run under a cancellable
 * notification and the TCAV panel. "Loupe: Show TCAV Results" reopens a known result.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultTcavLayers, TCAV_BUILTIN_CONCEPTS, type TcavConceptSpec, type TcavOptions, type TcavRandomSpec } from '../../protocol/tcav';
import type { ModelDescription } from '../../protocol/types';
import type { LoupeContext } from '../context';
import { layerPickItem, layerSummary } from '../format';
import { openTcav, runTcav, showTcav } from '../panels/tcavPanel';
import { tcavDescription } from './labels';
import type { TcavStore } from './store';

export const DEFAULT_RUNS = 20;

type Pick<T> = vscode.QuickPickItem & { value?: T };

async function pickFolder(title: string, many = false): Promise<vscode.Uri[] | undefined> {
  return vscode.window.showOpenDialog({
    canSelectFiles: false, canSelectFolders: true, canSelectMany: many, title: `Loupe: ${title}`,
    ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
  });
}

async function isFolder(uri: vscode.Uri): Promise<boolean> {
  try {
    return ((await vscode.workspace.fs.stat(uri)).type & vscode.FileType.Directory) !== 0;
  } catch {
    return false;
  }
}

async function pickClass(description: ModelDescription, folder: vscode.Uri): Promise<number | undefined> {
  const items: Pick<number>[] = description.labels.map((label, index) => ({ label, description: `class ${index}`, value: index }));
  const guess = items.find((i) => i.label.toLowerCase() === path.basename(folder.fsPath).toLowerCase());
  const pick = vscode.window.createQuickPick<Pick<number>>();
  pick.title = `Loupe: TCAV — the class of the images in ${path.basename(folder.fsPath)}`;
  pick.placeholder = 'The class whose logit is explained';
  pick.items = guess ? [guess, ...items.filter((i) => i !== guess)] : items;
  if (guess) pick.activeItems = [guess];
  return (await accept(pick))?.[0]?.value;
}

/** Shows `pick` and resolves its selection when accepted (undefined when dismissed). */
function accept<T>(pick: vscode.QuickPick<Pick<T>>): Promise<readonly Pick<T>[] | undefined> {
  return new Promise((resolve) => {
    let done = false;
    pick.onDidAccept(() => {
      done = true;
      resolve(pick.canSelectMany ? pick.selectedItems : pick.activeItems);
      pick.hide();
    });
    pick.onDidHide(() => {
      if (!done) resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

const BROWSE = Symbol('browse');

async function pickConcepts(): Promise<TcavConceptSpec[] | undefined> {
  const items: Pick<TcavConceptSpec | typeof BROWSE>[] = [
    { label: '$(folder-opened) Concept folders…', description: 'folders of a concept\'s images, or of one sub-folder per concept', value: BROWSE, alwaysShow: true },
  ];
  for (const [category, names] of Object.entries(TCAV_BUILTIN_CONCEPTS)) {
    items.push({ label: category === 'control' ? 'control' : `built-in ${category}s`, kind: vscode.QuickPickItemKind.Separator });
    for (const name of names) {
      items.push({
        label: name, description: category === 'control' ? 'built-in random scenes: should not be significant' : `built-in ${category}`,
        value: { kind: 'builtin', name },
      });
    }
  }
  const pick = vscode.window.createQuickPick<Pick<TcavConceptSpec | typeof BROWSE>>();
  pick.title = 'Loupe: TCAV — concepts to test';
  pick.placeholder = 'Pick built-in concepts and/or "Concept folders…", then press Enter';
  pick.canSelectMany = true;
  pick.matchOnDescription = true;
  pick.items = items;
  const picked = await accept(pick);
  if (!picked) return undefined;
  const concepts = picked.map((p) => p.value).filter((v): v is TcavConceptSpec => v !== undefined && v !== BROWSE);
  if (picked.some((p) => p.value === BROWSE)) {
    const folders = await pickFolder('concept folders', true);
    if (!folders) return undefined;
    concepts.push(...folders.map((f) => ({ kind: 'folder' as const, path: f.fsPath })));
  }
  return concepts;
}

async function pickRandom(): Promise<TcavRandomSpec | undefined> {
  const builtin: TcavRandomSpec = { kind: 'builtin' };
  const picked = await vscode.window.showQuickPick<Pick<TcavRandomSpec | typeof BROWSE>>([
    { label: 'Built-in random images', description: 'generated scenes of colours, textures and shapes', value: builtin },
    { label: '$(folder-opened) A folder of random images…', description: 'varied images to draw random sets from, or one sub-folder per random set', value: BROWSE },
  ], { title: 'Loupe: TCAV — random images (the baseline concepts are compared with)' });
  if (!picked) return undefined;
  if (picked.value !== BROWSE) return builtin;
  const folder = await pickFolder('folder of random images');
  return folder?.[0] ? { kind: 'folder', path: folder[0].fsPath } : undefined;
}

async function pickLayers(description: ModelDescription): Promise<string[] | undefined> {
  const defaults = new Set(defaultTcavLayers(description.layers));
  const pick = vscode.window.createQuickPick<Pick<string>>();
  pick.title = 'Loupe: TCAV — layers (a few spread through the network are picked)';
  pick.canSelectMany = true;
  pick.matchOnDescription = true;
  pick.items = description.layers.filter((l) => l.className !== 'InputLayer')
    .map((l) => ({ ...layerPickItem(l), description: layerSummary(l), value: l.name }));
  pick.selectedItems = pick.items.filter((i) => defaults.has(i.value!));
  const picked = await accept(pick);
  return picked?.map((p) => p.value!);
}

async function askRuns(): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title: 'Loupe: TCAV — random runs',
    prompt: 'N concept-vs-random CAVs per concept and layer, tested against N random-vs-random CAVs',
    value: String(DEFAULT_RUNS),
    validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 2 && Number(v) <= 500 ? undefined : 'a whole number from 2 to 500'),
  });
  return text === undefined ? undefined : Number(text.trim());
}

/** The whole flow; resolves when the panel shows the result (or the user dismissed a step). */
export async function testConcepts(ctx: LoupeContext, store: TcavStore, description: ModelDescription, modelPath: string, arg: unknown): Promise<void> {
  let folder = arg instanceof vscode.Uri && (await isFolder(arg)) ? arg : undefined;
  folder ??= (await pickFolder('folder of the class\'s images'))?.[0];
  if (!folder) return;
  const classIndex = await pickClass(description, folder);
  if (classIndex === undefined) return;
  const concepts = await pickConcepts();
  if (!concepts?.length) return;
  const random = await pickRandom();
  if (!random) return;
  const layers = await pickLayers(description);
  if (!layers?.length) return;
  const runs = await askRuns();
  if (runs === undefined) return;
  const options: TcavOptions = { classIndex, classImages: folder.fsPath, concepts, random, layers, runs };
  const result = await runTcav(ctx, store, modelPath, options, new AbortController());
  if (result) showTcav(ctx, store, modelPath, result);
}

/** From the CodeLens (modelPath, key), or the palette: a pick of the model's known results. */
export async function showTcavResults(ctx: LoupeContext, store: TcavStore, modelPath: string, key?: string): Promise<void> {
  if (key) {
    await openTcav(ctx, store, modelPath, key);
    return;
  }
  await store.load(modelPath);
  const results = store.all(modelPath);
  if (results.length === 0) {
    void vscode.window.showInformationMessage('Loupe: no TCAV result for the active model yet: right-click a folder of class images and pick "Loupe: Test Concepts (TCAV)…".');
    return;
  }
  const picked = await vscode.window.showQuickPick(results.map((r) => ({ label: r.classLabel, description: tcavDescription(r), key: r.key })),
    { title: 'Loupe: TCAV result to open' });
  if (picked) await openTcav(ctx, store, modelPath, picked.key);
}
