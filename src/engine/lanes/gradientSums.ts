import { inBatches, SampleQueue } from '../attribution/score';
import type { AttributionContext, SampleContext, WeightsVariant } from '../attribution/types';
import type { SampleBatch } from '../passes';

/**
 * A stream of model inputs indexed 0, 1, 2, … (SmoothGrad's noisy copies, IG's path points), defined
 * by serialisable `args` so that a lane in another thread draws exactly the same samples.
 */
export interface Sampler<A> {
  /** The key lanes look the sampler up by (samplers.ts). */
  kind: string;
  /** Inputs of samples start … start+count−1, [count, H, W, C], and their weights in the sum (default 1). */
  batch(ctx: SampleContext, args: A, start: number, count: number): { x: SampleBatch; weights?: number[] };
}

/** What a lane computes, besides the model and input: the sampler by kind, its arguments, and the weights. */
export interface LaneJob {
  sampler: string;
  args: unknown;
  squares: boolean;
  variant?: WeightsVariant;
}

/** Threads that take part in gradientSums (pool.ts). */
export interface Lanes {
  /** Has every lane claim samples from `queue` until none are left. */
  share(ctx: AttributionContext, job: LaneJob, queue: SampleQueue, label: string): LaneRun;
}

export interface LaneRun {
  /**
   * Once this thread found no sample left to claim: the sums of the lanes, and the owner ids of lanes
   * that failed (stopped by then, so their samples can be reclaimed). Never rejects.
   */
  settle(): Promise<{ sums: GradientSums[]; failed: number[] }>;
}

export interface GradientSums {
  /** Σᵢ wᵢ ∂f/∂x(xᵢ), shaped like one input. */
  sum: Float32Array;
  /** Σᵢ wᵢ (∂f/∂x(xᵢ))², when asked for. */
  sumSq?: Float32Array;
  /** How many samples these sums hold. */
  samples: number;
}

/** Work left (by this thread's pace) below which lanes are not asked to help. */
const MIN_SHARED_MS = 100;

/**
 * The weighted sum of the input gradients at `total` samples of `sampler`. This thread and the
 * engine's lanes claim samples from one shared queue, so the work spreads over the cores as they
 * free up; the samples of a lane that fails are computed here. Each sample is drawn from its own index, so the
 * result does not depend on who computed which sample (only float rounding of the partial sums does).
 */
export async function gradientSums<A>(
  ctx: AttributionContext, sampler: Sampler<A>, args: A, total: number, label: string, squares: boolean,
): Promise<GradientSums & { threads: number }> {
  const queue = new SampleQueue(total);
  // Lanes load the model from its file: they compute with its own weights, or with weights they can derive the same way.
  const variant = ctx.weights === ctx.model.graph.weights ? undefined : ctx.weightsVariant;
  const canShare = ctx.lanes !== undefined && (ctx.weights === ctx.model.graph.weights || variant !== undefined);
  let lanes: LaneRun | undefined;
  // Shared once this thread's first batch shows enough work left: below that, messages cost more than they save.
  const share = () => {
    if (canShare && !lanes && queue.msPerSample * queue.remaining >= MIN_SHARED_MS) {
      lanes = ctx.lanes!.share(ctx, { sampler: sampler.kind, args, squares, ...(variant ? { variant } : {}) }, queue, label);
    }
  };
  const local = [await sumLocally(ctx, sampler, args, queue, label, squares, share)];
  let remote: GradientSums[] = [];
  if (lanes) {
    const { sums, failed } = await lanes.settle();
    remote = sums;
    for (const owner of failed) queue.reclaim(owner);
    if (queue.remaining > 0) local.push(await sumLocally(ctx, sampler, args, queue, label, squares));
  }
  const sums = merge([...local, ...remote]);
  // Every sample exactly once, whoever computed it: a lost or doubled range would bias the map silently.
  if (sums.samples !== total) throw new Error(`${label}: ${sums.samples} samples summed instead of ${total}`);
  const perThread = [local.reduce((n, p) => n + p.samples, 0), ...remote.map((p) => p.samples)];
  return { ...sums, threads: perThread.filter((n) => n > 0).length };
}

/** Computes samples from `queue` in this thread's batches until none are left. */
export async function sumLocally<A>(
  ctx: SampleContext, sampler: Sampler<A>, args: A, queue: SampleQueue, label: string, squares: boolean, beforeBatch?: () => void,
): Promise<GradientSums> {
  const size = ctx.input.size;
  const sum = new Float64Array(size);
  const sumSq = squares ? new Float64Array(size) : undefined;
  let samples = 0;
  const other = ctx.weights === ctx.model.graph.weights ? undefined : ctx.weights;
  await inBatches(ctx, queue, label, async (start, count) => {
    beforeBatch?.();
    samples += count;
    const { x, weights } = sampler.batch(ctx, args, start, count);
    const part = await ctx.model.passes.gradientSums(x, ctx.target, weights ?? new Array<number>(count).fill(1), squares, other);
    add(sum, part.sum);
    if (sumSq) add(sumSq, part.sumSq!);
  });
  return { samples, sum: Float32Array.from(sum), ...(sumSq ? { sumSq: Float32Array.from(sumSq) } : {}) };
}

function add(into: Float64Array, part: Float32Array): void {
  for (let i = 0; i < into.length; i++) into[i] = into[i]! + part[i]!;
}

function merge(parts: GradientSums[]): GradientSums {
  const [first, ...rest] = parts;
  const sum = Float64Array.from(first!.sum);
  const sumSq = first!.sumSq ? Float64Array.from(first!.sumSq) : undefined;
  for (const p of rest) {
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + p.sum[i]!;
    if (sumSq) for (let i = 0; i < sumSq.length; i++) sumSq[i] = sumSq[i]! + p.sumSq![i]!;
  }
  return {
    sum: Float32Array.from(sum), ...(sumSq ? { sumSq: Float32Array.from(sumSq) } : {}), samples: parts.reduce((n, p) => n + p.samples, 0),
  };
}
