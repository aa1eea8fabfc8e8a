/**
 * What every part of the extension host shares: one per window, created in `activate()`.
 * Panels and commands code against this interface only; `createLoupeContext` (./loupeContext.ts)
 * builds it.
 */
import type * as vscode from 'vscode';
import type { RankedDefinition } from './codeIndex';
import type { LoupeConfig } from './config';
import type { DissectionSummary, ModelDescription } from '../protocol/types';
import type { WorkerClient } from './workerClient';

export type { LoupeConfig } from './config';
export type { RankedDefinition } from './codeIndex';

export type WorkerState = 'idle' | 'starting' | 'busy' | 'error';

export interface ModelEntry {
  /** The model file (model.json, model.onnx, …). */
  uri: vscode.Uri;
  /** Filled once the worker has described the model (see `describeActive`). */
  description?: ModelDescription;
}

export interface LoupeContext {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  /**
   * The window's worker: starts on first call, restarts after a crash, stops when idle.
   * Every call made through it (also from panels) shows in the status bar as busy.
   * Read `ctx.client` at each use rather than keeping it: a change of the backend setting swaps it.
   */
  client: WorkerClient;
  /** Typed view of the `loupe.*` settings, read afresh on every call. */
  config(): LoupeConfig;
  /** The model the Models view marks active (undefined when the workspace has none). */
  activeModel(): ModelEntry | undefined;
  /** Describes the active model through the worker (cached per model until its files change). */
  describeActive(): Promise<ModelDescription | undefined>;
  codeLinks: {
    /** Source definitions of `layer`, best first (the file that produced the active model first). */
    definitions(layer: string): RankedDefinition[];
    /** Opens the best definition at its line; when there are several, offers them with the reason for each. */
    open(layer: string): Promise<void>;
  };
  status: { set(state: WorkerState, detail?: string): void };
  /** Network dissections known for the workspace's models (the worker's disk cache plus this session's runs). */
  dissections: {
    /** The folder the worker caches dissections in (its LOUPE_CACHE_DIR); panels show the strips from there. */
    cacheDir: vscode.Uri;
    get(modelPath: string, layer: string): DissectionSummary | undefined;
    set(modelPath: string, summary: DissectionSummary): void;
    /** Reads the model's cached dissections from the worker (no computation). */
    load(modelPath: string): Promise<DissectionSummary[]>;
  };
  /**
   * Asks for a preprocessing (and, with `askSize`, the input size) and writes loupe.json beside the model
   * (default: the active one); resolves true when it was written.
   */
  createSidecar(options?: { modelPath?: string; askSize?: boolean }): Promise<boolean>;
  /** Feature visualisations (src/host/featureVis): units' pictures, and "Visualize Unit" (absent in hosts without it). */
  featureVis?: {
    /** The PNG of the unit's picture, when it was rendered for the model's current weights. */
    icon(modelPath: string, layer: string, unit: number): string | undefined;
    /** Renders (or reads from the cache) the unit's picture and shows it in the Feature Visualization panel. */
    visualize(modelPath: string, layer: string, unit: number): Promise<void>;
    /** Fires when a picture was added or the cache was read. */
    onDidChange: vscode.Event<void>;
  };
  /** The image last explained in this window (for "Grad-CAM at this layer"). Panels call `remember` too. */
  images: { last(): vscode.Uri | undefined; remember(uri: vscode.Uri): void };
}
