/**
 * How a layer's name is shown, and which name the user's code gives it, for graph models that
 * tfjs-converter made from a Keras model or a TF SavedModel. The converter names every op by its
 * TensorFlow scope: `StatefulPartitionedCall/model_1/conv2d_5/Conv2D`, where `StatefulPartitionedCall`
 * is the traced `call` of the saved function, `model_1` the Keras model and `conv2d_5` the Keras layer.
 * Nested saved functions (a TF Hub `KerasLayer`) repeat the wrapper inside the path:
 * `StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/…/MobilenetV2/Conv/Relu6`.
 * Pure, shared by the engine (the Keras name becomes the layer's `sourceName`), the host and the webviews.
 */

/** Scope segments the TF function tracer adds; they name no part of the user's model. */
const WRAPPERS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);

function segments(name: string): string[] {
  return name.split('/');
}

/**
 * The op path of a converted Keras model: a name that starts with a tracer wrapper, then the model's
 * scope and at least one more segment. Undefined for every other name (Layers models, ONNX, hand-built graphs).
 */
function convertedPath(name: string): { model: string; rest: string[] } | undefined {
  const parts = segments(name);
  let i = 0;
  while (i < parts.length && WRAPPERS.has(parts[i]!)) i++;
  if (i === 0 || parts.length - i < 2) return undefined;
  return { model: parts[i]!, rest: parts.slice(i + 1) };
}

/**
 * The name to show: a converted op path without its tracer wrappers and the model's own scope
 * (`StatefulPartitionedCall/model_1/conv2d_5/Conv2D` → `conv2d_5/Conv2D`); every other name as it is.
 * The full name stays the layer's identity (requests, tooltips).
 */
export function displayLayerName(name: string): string {
  const path = convertedPath(name);
  if (!path) return name;
  const shown = path.rest.filter((p) => !WRAPPERS.has(p) && p !== '');
  return shown.length ? shown.join('/') : name;
}

/**
 * The Keras layer a converted op belongs to: the first scope inside the model's
 * (`StatefulPartitionedCall/model_1/conv2d_5/BiasAdd` → `conv2d_5`). Undefined when the name is not a
 * converted op path, or when the op sits directly in the model's scope (no layer of its own).
 */
export function kerasLayerOfOpPath(name: string): string | undefined {
  const path = convertedPath(name);
  if (!path || path.rest.length < 2) return undefined;
  const layer = path.rest[0]!;
  return layer && !WRAPPERS.has(layer) ? layer : undefined;
}
