import type { AttributionOutput, ExplainResult, RgbaImage } from '../protocol/results';
import type { ForwardSummary } from '../protocol/worker';

export type { AttributionOutput, ExplainResult, RgbaImage };

/** One forward pass of an image: what the Explain panel shows before any map. */
export interface ForwardResult extends ForwardSummary {
  /** The image as the model sees it (resized, before normalisation). */
  image: RgbaImage;
}

export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}
