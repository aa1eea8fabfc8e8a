import type { ModelFileKind } from '../../../protocol/formats';
import type { IRGraph } from '../ir';

/** What a loader makes of a model file: Loupe's graph, and the bytes that identify its weights. */
export interface ModelSource {
  graph: IRGraph;
  /** Every byte the model's results depend on (model file, shards, external data), in order: the fingerprint. */
  fingerprintParts: Buffer[];
  /** How shapes are shown to the user (see ModelDescription.layout). */
  layout: 'NHWC' | 'NCHW';
  /** Facts about how the file was read that the user should see. */
  notes?: string[];
  /** Frees what the loader holds besides the graph's weights. */
  release?: () => void;
}

/** One model file format (registry in ../loader.ts). A new format adds a folder here and a line there. */
export interface ModelLoader {
  kind: Exclude<ModelFileKind, 'checkpoint'>;
  load(file: string): Promise<ModelSource>;
}
