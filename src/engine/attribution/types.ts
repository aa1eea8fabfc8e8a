import type * as tf from '@tensorflow/tfjs';
import type { MethodId, MethodParams, Preprocessing, TargetKind } from '../../protocol/types';
import type { LoadedModel } from '../model/loader';
import type { WeightStore } from '../model/weightStore';
import type { RgbaImage, RunHooks } from '../types';
import type { Lanes } from '../lanes/gradientSums';

export interface Target {
  classIndex: number;
  kind: TargetKind;
}

/** Everything a method needs; built once per explanation and shared by all methods. */
export interface AttributionContext {
  model: LoadedModel;
  /** [1, H, W, C], preprocessed. */
  input: tf.Tensor4D;
  /** The image as the model sees it (resized, before normalisation). */
  image: RgbaImage;
  preprocessing: Preprocessing;
  target: Target;
  params: MethodParams;
  /** Resolved layer for layer-space methods (Grad-CAM). */
  layer: string;
  /** Weights to run with: the model's own, or the randomised copy of the sanity check. */
  weights: WeightStore;
  hooks: RunHooks;
  /** Other threads that may compute samples of SmoothGrad and IG (absent: this thread alone). */
  lanes?: Lanes;
  /** How `weights` derive from the model's own, when they do not equal them: lanes rebuild the same store. */
  weightsVariant?: WeightsVariant;
}

/** Weights derived reproducibly from a model's own: the sanity check's re-initialised top layers. */
export interface WeightsVariant {
  kind: 'randomized-top';
  layers: number;
  seed: number;
}

/** What computing gradients of samples needs: all a lane (src/engine/lanes) rebuilds in its thread. */
export type SampleContext = Pick<AttributionContext, 'model' | 'input' | 'target' | 'params' | 'weights' | 'hooks'>;

export type DisplayMode = 'absmax' | 'sum' | 'abssum';

export interface MethodOutput {
  data: Float32Array;
  /** [H, W, C] for input-space methods, [H, W] for CAM-style maps. */
  shape: number[];
  lowres?: { data: Float32Array; shape: number[] };
  /** How [H, W, C] reduces to the H × W map shown; ignored for 2-D maps. */
  display: DisplayMode;
  /** Whether the displayed map is signed (diverging colormap) or a magnitude. */
  signed: boolean;
  params: Record<string, unknown>;
  figures: Record<string, number>;
  notes: string[];
  layer?: string;
}

/** One attribution method (one file each, registered in registry.ts). */
export interface AttributionMethod {
  id: MethodId;
  title: string;
  run(ctx: AttributionContext): Promise<MethodOutput>;
}
