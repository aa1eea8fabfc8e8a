// The requests between the engine and its lanes (worker threads in the same process). Messages
// cross by structured clone, so typed arrays arrive as typed arrays.
import { RequestType } from 'vscode-jsonrpc';
import type { BackendName } from '../../protocol/types';
import type { Target, WeightsVariant } from '../attribution/types';

/** Which model, on which weights: a lane refuses to compute with weights other than the caller's. */
export interface LaneModel {
  modelPath: string;
  fingerprint: string;
  backend: BackendName;
}

/** A sum of gradients over the samples the lane claims from a shared queue (see gradientSums.ts). */
export interface LaneSumParams extends LaneModel {
  input: Float32Array;
  inputShape: number[];
  target: Target;
  maxBatch: number;
  sampler: string;
  args: unknown;
  squares: boolean;
  /** Weights derived from the model's own (absent: its own). */
  variant?: WeightsVariant;
  /** The SampleQueue's buffer, its total, and the lane's owner id in it. */
  queue: SharedArrayBuffer;
  total: number;
  owner: number;
}

export interface LaneSumResult {
  sum: Float32Array;
  sumSq?: Float32Array;
  /** Samples the lane computed, and its wall time. */
  samples: number;
  ms: number;
}

/** The error a lane answers when the model file no longer has the caller's weights. */
export const STALE_MODEL = -32001;

/** Loads (or keeps) the model, so a lane that is still starting never holds samples others could compute. */
export const LanePrepareRequest = new RequestType<LaneModel, { ms: number }, unknown>('lane/prepare');
export const LaneSumRequest = new RequestType<LaneSumParams, LaneSumResult, unknown>('lane/sum');
