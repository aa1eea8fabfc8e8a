// Feature visualisation's parameterisation on two threads (src/engine/featureVis/paramThreads.ts): the helper thread
// takes half of each large loop. Oracle: the same steps on one thread (SERIAL), which the kernel tests check against
// finite differences and TF.js; the two must agree bit for bit, since each half runs the same code on its range.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Adam } from '../src/engine/featureVis/adam';
import { FourierPipeline } from '../src/engine/featureVis/fourierPipeline';
import { FourierImage } from '../src/engine/featureVis/param';
import { SERIAL, ThreadSplitter, type Splitter } from '../src/engine/featureVis/paramThreads';
import { inputMap } from '../src/engine/featureVis/pipeline';
import { drawTransforms, prepareTransforms, STANDARD_TRANSFORMS } from '../src/engine/featureVis/transforms';
import { rng } from './helpers/models';

let threads: ThreadSplitter | undefined;

before(async () => {
  threads = ThreadSplitter.start();
  assert.ok(threads, 'this machine has one core: the helper thread is not started');
  await threads.ready;
});

after(async () => {
  await threads?.stop();
});

/** Runs `steps` steps of the 128 px recipe (bgr preprocessing, a 224 px model input) and returns θ and each step's model input. */
function run(split: Splitter, size: number, steps: number): { theta: Float32Array; inputs: Float32Array[] } {
  const [H, W, C] = [224, 224, 3];
  const fourier = new FourierImage({ batch: 1, height: size, width: size, channels: C, decayPower: 1, decorrelate: true });
  const pipeline = new FourierPipeline(fourier, inputMap({ range: [0, 255], mean: [100, 110, 120], std: [50, 60, 70], channels: 'bgr' }, C), split);
  const theta = pipeline.keep(fourier.size);
  theta.set(fourier.initial(7, 0.01));
  const adam = new Adam(theta.length, 0.05, 0.9, 0.999, 1e-8, (n) => pipeline.keep(n));
  const draw = rng(11);
  const gradient = rng(12);
  const inputs: Float32Array[] = [];
  for (let step = 0; step < steps; step++) {
    pipeline.recycle();
    const stages = prepareTransforms(drawTransforms(STANDARD_TRANSFORMS, size, size, H, W, draw), size, size, pipeline.sharedTables);
    inputs.push(Float32Array.from(pipeline.forward(theta, stages)));
    // A stand-in for the model's input gradient: any values exercise the same loops.
    const g = pipeline.alloc(H * W * C);
    for (let i = 0; i < g.length; i++) g[i] = gradient() - 0.5;
    pipeline.ascend(adam, theta, pipeline.backward(g, [1, H, W, C]));
  }
  return { theta: Float32Array.from(theta), inputs };
}

test('two threads give the same model inputs and parameters as one, bit for bit (even and odd image sizes)', { timeout: 60_000 }, () => {
  for (const size of [128, 45]) {
    const one = run(SERIAL, size, 6);
    const two = run(threads!, size, 6);
    for (const [step, input] of one.inputs.entries()) {
      assert.ok(input.every((v, i) => Object.is(v, two.inputs[step]![i])), `${size} px, step ${step}: the model inputs differ`);
    }
    assert.ok(one.theta.every((v, i) => Object.is(v, two.theta[i])), `${size} px: the parameters differ after 6 steps`);
    assert.ok(one.theta.some((v) => v !== 0), 'the steps changed the parameters');
  }
});

test('a failure on the helper thread is an error on the caller, not a wrong result', () => {
  const shared = threads!.alloc(4);
  assert.throws(() => threads!.run('adam', [{ theta: shared, g: shared, m: shared, v: shared, lrT: 1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }, 0, 0],
    [null as never, 0, 4]), /helper thread failed/);
  // The helper goes on with the next job.
  const theta = threads!.alloc(4);
  const g = threads!.alloc(4);
  g.fill(1);
  const args = { theta, g, m: threads!.alloc(4), v: threads!.alloc(4), lrT: 0.5, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  threads!.run('adam', [args, 0, 2], [args, 2, 4]);
  assert.ok(theta.every((v) => v > 0), `both halves updated: ${[...theta].join(', ')}`);
});
