import { nodeIndex } from './executor';
import type { IRGraph, IRNode } from './ir';

const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Identity']);
const NOT_FEATURE_MAPS = new Set(['InputLayer', 'MaxPooling2D', 'AveragePooling2D', 'ZeroPadding2D', 'Cropping2D',
  'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Identity', 'Reshape']);

export type CamHead =
  | { ok: true; layer: string; dense: string; kernel: string }
  | { ok: false; reason: string };

/** Kind of a node for the rules below: its op when declared, else what its Keras class name says. */
function kindOf(n: IRNode): string {
  if (!n.op) return n.className;
  switch (n.op.op) {
    case 'dense': return 'Dense';
    case 'globalPool': return n.op.mode === 'avg' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D';
    case 'flatten': case 'reshape': return 'Flatten';
    case 'identity': return 'Identity';
    case 'pool': return n.op.mode === 'max' ? 'MaxPooling2D' : 'AveragePooling2D';
    case 'pad': return 'ZeroPadding2D';
    case 'crop': return 'Cropping2D';
    case 'input': return 'InputLayer';
    default: return n.className;
  }
}

/** CAM (Zhou 2016) needs class scores = Dense(GlobalAveragePooling(A)); find A and the Dense layer. */
export function camHead(graph: IRGraph): CamHead {
  const byName = nodeIndex(graph);
  const logits = byName.get(graph.logitsName)!;
  if (kindOf(logits) !== 'Dense' || logits.inputs.length !== 1) {
    return { ok: false, reason: `the class scores come from '${logits.name}' (${logits.className}), not from a dense layer on global average pooling` };
  }
  const linear = logits.activation === undefined || logits.activation === 'linear' || logits.activation === 'softmax';
  if (!linear) return { ok: false, reason: `the dense layer '${logits.name}' has a '${logits.activation}' activation` };
  let node: IRNode = byName.get(logits.inputs[0]!)!;
  // Flattening [C] or [1, 1, C] (a global pool that kept its axes, as ONNX's does) passes the vector through.
  const flattensVector = (n: IRNode) => kindOf(n) === 'Flatten' && n.outputShape.length === 1
    && byName.get(n.inputs[0]!)!.outputShape.slice(0, -1).every((d) => d === 1);
  const passes = (n: IRNode) => n.inputs.length === 1 && (PASS_THROUGH.has(kindOf(n)) || flattensVector(n));
  while (passes(node)) node = byName.get(node.inputs[0]!)!;
  if (kindOf(node) !== 'GlobalAveragePooling2D') {
    return { ok: false, reason: `'${logits.name}' is fed by '${node.name}' (${node.className}), not by global average pooling` };
  }
  const kernel = logits.weightNames[0];
  if (!kernel) return { ok: false, reason: `the dense layer '${logits.name}' has no weights` };
  return { ok: true, layer: node.inputs[0]!, dense: logits.name, kernel };
}

/** Grad-CAM's default: the last convolutional feature map before the classifier head. */
export function defaultCamLayer(graph: IRGraph): string | undefined {
  const candidates = graph.nodes.filter((n) => n.outputShape.length === 3 && !NOT_FEATURE_MAPS.has(kindOf(n)));
  const lastConv = [...graph.nodes].reverse().find((n) => n.isConv);
  if (!lastConv) return candidates.at(-1)?.name;
  // The conv layer's own output, or what directly follows it (BN, activation, add) when that is later.
  const after = candidates.filter((n) => graph.nodes.indexOf(n) > graph.nodes.indexOf(lastConv)
    && n.outputShape.join() === lastConv.outputShape.join());
  return (after.at(-1) ?? lastConv).name;
}
