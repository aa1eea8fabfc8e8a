import type { ExplainSummary, MapSummary } from '../protocol/types';
import type { ForwardSummary } from '../protocol/worker';

/** A decoded image: RGBA, values in [0, 255] (float so 16-bit sources keep their precision). */
export interface RgbaImage {
  width: number;
  height: number;
  /** width × height × 4, row-major, values in [0, 255]. */
  data: Float32Array;
}

/** One computed map with its raw numbers. */
export interface AttributionOutput {
  summary: MapSummary;
  /** Raw float32 attribution, row-major in summary.shape. */
  data: Float32Array;
  /** CAM-style methods: the map at the layer's own resolution (summary.lowresShape). */
  lowres?: Float32Array;
  /** H × W values the overlay PNG shows (channel reduction already applied). */
  display: Float32Array;
}

export interface ExplainResult {
  summary: ExplainSummary;
  maps: AttributionOutput[];
  /** The image as the model sees it (resized, before normalisation), for overlays. */
  image: RgbaImage;
}

/** One forward pass of an image: what the Explain panel shows before any map. */
export interface ForwardResult extends ForwardSummary {
  /** The image as the model sees it (resized, before normalisation). */
  image: RgbaImage;
}

export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}
