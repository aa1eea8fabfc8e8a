// Where each layer's weight arrays sit: Keras 3 `model.weights.h5` (`layers/<class>_<n>/vars/<i>`,
// the group tagged with the layer's name since Keras 3.x) or a legacy .h5 (`model_weights/<layer>/…`,
// listed in order by the group's `weight_names`).
import { LoupeError } from '../../../../protocol/errors';
import { attrString, attrStrings, child, groupAt, isGroup, readFloat32, type H5Dataset, type H5Group } from './hdf5';
import type { RawWeight } from './layerTable';
import type { KerasLayer } from './topology';

export interface WeightSource {
  /** The arrays Keras stored for `layer`, in order; `stored` names what Keras writes, for messages. */
  read(layer: KerasLayer, stored: string[]): RawWeight[];
}

/** Keras 3: `root` is model.weights.h5 from the archive. */
export function keras3Weights(root: H5Group, file: string, byteBudget: number): WeightSource {
  const tagged = taggedVars(root, file);
  const budget = { bytes: byteBudget };
  return {
    read(layer, stored) {
      if (stored.length === 0) return [];
      // Once the file tags its groups with layer names, an untagged layer has no weights in it.
      const path = tagged.size ? tagged.get(layer.name) : `${layer.varsPath}/vars`;
      const vars = path ? groupAt(root, path, file) : undefined;
      const where = `the weights of layer '${layer.name}' (${path ?? `no vars group named '${layer.name}'`} in model.weights.h5)`;
      if (!vars) throw missing(layer, stored, `${where} are missing`, file);
      const datasets = vars.keys.filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
      if (datasets.length !== stored.length) {
        throw missing(layer, stored, `${where} are ${datasets.length} arrays where Keras stores ${stored.length}`, file);
      }
      return datasets.map((k, i) => readFloat32(dataset(vars, k, `${where}: ${stored[i]}`, file), `weight '${stored[i]}' of layer '${layer.name}'`, file, budget));
    },
  };
}

/** Keras ≥ 3.x writes the layer's name on each `vars` group: found by name, a layer cannot be mismatched. */
function taggedVars(root: H5Group, file: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (group: H5Group, path: string, depth: number): void => {
    if (depth > 16) return;
    for (const key of group.keys) {
      const g = child(group, key, file);
      if (!isGroup(g)) continue;
      const vars = child(g, 'vars', file);
      const name = isGroup(vars) ? attrString(vars.attrs, 'name') : undefined;
      if (name && !found.has(name)) found.set(name, `${path}/${key}/vars`);
      const inner = child(g, 'layers', file);
      if (isGroup(inner)) walk(inner, `${path}/${key}/layers`, depth + 1);
    }
  };
  const layers = child(root, 'layers', file);
  if (isGroup(layers)) walk(layers, 'layers', 0);
  return found;
}

/** Legacy HDF5: `root` is the file; weights under `model_weights`. */
export function legacyWeights(root: H5Group, file: string, byteBudget: number): WeightSource {
  const weightsGroup = child(root, 'model_weights', file);
  if (!isGroup(weightsGroup)) {
    throw new LoupeError('WEIGHTS_INVALID', 'has a model config but no model_weights group', file,
      'save the model with model.save(...), not only its architecture');
  }
  // layer name → its datasets in stored order. A weight name is `<layer>/<weight>:0` (Keras 2) or
  // `<model>/<layer>/<weight>` (Keras 3); nested models list their layers' weights in their own group.
  const byLayer = new Map<string, Array<{ group: H5Group; name: string }>>();
  for (const groupName of weightsGroup.keys) {
    const group = child(weightsGroup, groupName, file);
    if (!isGroup(group)) continue;
    for (const weightName of attrStrings(group.attrs, 'weight_names')) {
      const parts = weightName.split('/');
      const owner = parts.length >= 2 ? parts[parts.length - 2]! : groupName;
      const list = byLayer.get(owner) ?? [];
      list.push({ group, name: weightName });
      byLayer.set(owner, list);
    }
  }
  const budget = { bytes: byteBudget };
  return {
    read(layer, stored) {
      if (stored.length === 0) return [];
      const entries = byLayer.get(layer.name) ?? [];
      const where = `the weights of layer '${layer.name}' (model_weights/${layer.name})`;
      if (entries.length !== stored.length) {
        throw missing(layer, stored, entries.length === 0 ? `${where} are missing` : `${where} are ${entries.length} arrays where Keras stores ${stored.length}`, file);
      }
      return entries.map((e, i) => readFloat32(dataset(e.group, e.name, `${where}: ${e.name}`, file), `weight '${stored[i]}' of layer '${layer.name}'`, file, budget));
    },
  };
}

function dataset(group: H5Group, path: string, where: string, file: string): H5Dataset {
  let node: ReturnType<typeof child> = group;
  for (const key of path.split('/')) node = isGroup(node) ? child(node, key, file) : undefined;
  if (!node || isGroup(node)) throw new LoupeError('WEIGHTS_INVALID', `${where} is not in the file`, file, 'save the model again');
  return node;
}

function missing(layer: KerasLayer, stored: string[], detail: string, file: string): LoupeError {
  return new LoupeError('WEIGHTS_INVALID', `${detail} (${layer.className} stores ${stored.join(', ')})`, file,
    'the weights do not belong to this model config: save the model again with model.save(...)');
}
