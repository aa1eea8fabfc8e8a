import type { LayerInfo, ModelDescription } from '../../protocol/types';
import { LoupeError } from '../../protocol/errors';

/**
 * The layer with a spatial (H×W×C) output that `requested` names: a layer, or a module whose output is a
 * layer's (ModelDescription.moduleOutputs, e.g. PyTorch's `layer4`). Anything else is a BAD_REQUEST that
 * lists the choices; `purpose` says what the layer is for ("dissect", "use for Grad-CAM").
 */
export function spatialLayer(description: ModelDescription, requested: unknown, purpose: string): LayerInfo {
  const name = typeof requested === 'string' ? description.moduleOutputs?.[requested] ?? requested : undefined;
  const info = description.layers.find((l) => l.name === name);
  if (!info || info.outputShape.length !== 3 || info.className === 'InputLayer') {
    const spatial = description.layers.filter((l) => l.outputShape.length === 3 && l.className !== 'InputLayer').map((l) => l.name);
    throw new LoupeError('BAD_REQUEST', `'${String(requested)}' is not a layer with a spatial (H×W×C) output in this model`,
      description.path, `${purpose} one of: ${spatial.join(', ')}`);
  }
  return info;
}
