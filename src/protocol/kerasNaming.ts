/**
 * Keras's `to_snake_case`, shared by the engine (where Keras 3 stores a layer's weights:
 * `layers/<snake>_<n>`) and the host (the name Keras gives an unnamed layer: `conv2d_1`).
 * `Conv2D` → `conv2d`, `BatchNormalization` → `batch_normalization`, `ReLU` → `re_lu`.
 */
export function kerasSnakeCase(className: string): string {
  const cleaned = className.replace(/\W+/g, '');
  const intermediate = cleaned.replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2');
  const snake = intermediate.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  return snake.startsWith('_') ? `private${snake}` : snake;
}
