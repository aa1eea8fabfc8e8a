import * as tf from '@tensorflow/tfjs';
import { LoupeError } from '../../protocol/errors';
import { REDIRECTED_RELU, registerRedirectedReluKernels, type RedirectedReluAttrs } from '../kernels/redirectedRelu';
import { customGrad1 } from './customGrad';
import type { ActivationSpec, ReluRule } from './ir';

/** Forward value and local derivative mask of a ReLU-family unit. */
interface ReluFamily {
  forward(x: tf.Tensor): tf.Tensor;
  /** d forward / d x, as 0/1 (or alpha) per element. */
  slope(x: tf.Tensor): tf.Tensor;
  /** What deconvnet passes back: the same nonlinearity applied to the gradient. */
  deconv(dy: tf.Tensor): tf.Tensor;
  /** The upper clip (ReLU6, clipped ReLU) for the redirected rule; undefined: none; NaN: not redirected (leaky ReLU). */
  max?: number;
}

function reluFamily(spec: ActivationSpec): ReluFamily | undefined {
  switch (spec.kind) {
    case 'relu':
      return { forward: (x) => tf.relu(x), slope: (x) => tf.step(x), deconv: (dy) => tf.relu(dy) };
    case 'relu6':
      return {
        forward: (x) => tf.relu6(x),
        slope: (x) => tf.logicalAnd(tf.greater(x, 0), tf.less(x, 6)).toFloat(),
        deconv: (dy) => tf.relu(dy),
        max: 6,
      };
    case 'clippedrelu': {
      const max = spec.max;
      return {
        forward: (x) => tf.clipByValue(x, 0, max),
        slope: (x) => tf.logicalAnd(tf.greater(x, 0), tf.less(x, max)).toFloat(),
        deconv: (dy) => tf.relu(dy),
        max,
      };
    }
    case 'leakyrelu': {
      const alpha = spec.alpha;
      return {
        forward: (x) => tf.leakyRelu(x, alpha),
        slope: (x) => tf.where(tf.greater(x, 0), tf.onesLike(x), tf.fill(x.shape, alpha)),
        deconv: (dy) => tf.leakyRelu(dy, alpha),
        max: Number.NaN,
      };
    }
    default:
      return undefined;
  }
}

/**
 * Guided backprop (Springenberg 2015): pass dy · slope(x) only where dy > 0.
 * Deconvnet (Zeiler & Fergus 2014): pass the nonlinearity of dy, ignoring the forward input.
 */
function withRule(family: ReluFamily, rule: Exclude<ReluRule, 'standard'>): (x: tf.Tensor) => tf.Tensor {
  return customGrad1((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: family.forward(x),
      gradFunc: (g: tf.Tensor, saved: tf.Tensor[]) => {
        if (rule === 'deconvnet') return family.deconv(g);
        if (rule === 'redirected') {
          // Lucid redirects ReLU and ReLU6 only: a leaky ReLU's gradient never vanishes.
          return Number.isNaN(family.max) ? tf.mul(g, family.slope(saved[0]!)) : redirectedGradient(g, family.forward(saved[0]!), family.max);
        }
        return tf.mul(tf.mul(g, family.slope(saved[0]!)), tf.step(g));
      },
    };
  });
}

/**
 * Lucid's redirected ReLU gradient (lucid/misc/redirected_relu_grad.py) of a ReLU (max undefined) or a clipped
 * ReLU (ReLU6: max 6), from the unit's output y: per batch element, the standard gradient when any of it gets
 * through; otherwise dy except where it would push a dead input (y ≤ 0) further down or a saturated one (y ≥ max)
 * further up (kernels/redirectedRelu.ts).
 */
export function redirectedGradient(dy: tf.Tensor, y: tf.Tensor, max: number | undefined): tf.Tensor {
  registerRedirectedReluKernels();
  const attrs: RedirectedReluAttrs = { max: max ?? Infinity };
  return tf.engine().runKernel(REDIRECTED_RELU, { dy, y }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

export function applyActivation(x: tf.Tensor, spec: ActivationSpec, rule: ReluRule): tf.Tensor {
  const family = reluFamily(spec);
  if (family) return rule === 'standard' ? family.forward(x) : withRule(family, rule)(x);
  switch (spec.kind) {
    case 'linear': return x;
    case 'sigmoid': return tf.sigmoid(x);
    case 'tanh': return tf.tanh(x);
    case 'elu': return tf.elu(x);
    case 'selu': return tf.selu(x);
    case 'softplus': return tf.softplus(x);
    case 'softsign': return tf.div(x, tf.add(tf.abs(x), 1));
    case 'hardSigmoid': return tf.clipByValue(tf.add(tf.mul(x, spec.alpha), spec.beta), 0, 1);
    case 'hardSwish': return tf.mul(x, tf.clipByValue(tf.add(tf.div(x, 6), 0.5), 0, 1));
    case 'clip': return tf.clipByValue(x, spec.min, spec.max);
    case 'swish': return tf.mul(x, tf.sigmoid(x));
    case 'mish': return tf.mul(x, tf.tanh(tf.softplus(x)));
    case 'gelu': return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
    case 'softmax': return tf.softmax(x);
    default: throw new Error(`internal: activation ${(spec as { kind: string }).kind}`);
  }
}

const NAMED: Record<string, ActivationSpec> = {
  linear: { kind: 'linear' }, relu: { kind: 'relu' }, relu6: { kind: 'relu6' }, sigmoid: { kind: 'sigmoid' },
  tanh: { kind: 'tanh' }, elu: { kind: 'elu' }, selu: { kind: 'selu' }, softplus: { kind: 'softplus' },
  softsign: { kind: 'softsign' }, hardsigmoid: { kind: 'hardSigmoid', alpha: 0.2, beta: 0.5 },
  hard_sigmoid: { kind: 'hardSigmoid', alpha: 0.2, beta: 0.5 }, hard_swish: { kind: 'hardSwish' }, hardswish: { kind: 'hardSwish' },
  swish: { kind: 'swish' }, silu: { kind: 'swish' }, mish: { kind: 'mish' }, gelu: { kind: 'gelu' },
  softmax: { kind: 'softmax' },
};

/** Maps a Keras / graph activation name to a spec, or refuses with the name. */
export function activationByName(name: string | undefined | null, where: string, file: string): ActivationSpec {
  if (!name) return { kind: 'linear' };
  const spec = NAMED[name.toLowerCase()];
  if (!spec) {
    throw new LoupeError('UNSUPPORTED_MODEL', `layer '${where}' uses the activation '${name}', which Loupe does not support yet`, file,
      `supported: ${Object.keys(NAMED).join(', ')}`);
  }
  return spec;
}
