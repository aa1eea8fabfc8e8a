import type { AttributionOutput, ExplainResult, RgbaImage } from '../protocol/results';

export type { AttributionOutput, ExplainResult, RgbaImage };

export interface RunHooks {
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}
