/**
 * Which files are models, by name: shared by the host (discovery in the workspace) and the engine
 * (which loader reads a file). A file's content still decides (model.json files are sniffed; loaders
 * refuse what is not theirs with a message).
 */

/** File name endings of models Loupe reads, lower case. `model.json` is matched by name (TF.js writes that name). */
export const MODEL_EXTENSIONS = ['.onnx', '.keras', '.h5', '.hdf5'] as const;
export const TFJS_MODEL_NAME = 'model.json';

/** PyTorch checkpoints: listed so the user learns how to export them; never read (unpickling runs code). */
export const CHECKPOINT_EXTENSIONS = ['.pt', '.pth', '.ckpt'] as const;

export type ModelFileKind = 'tfjs' | 'onnx' | 'keras' | 'checkpoint';

/** The kind of a model file by its name, or undefined when Loupe does not read such files. */
export function modelFileKind(file: string): ModelFileKind | undefined {
  const base = file.split(/[\\/]/).pop()!.toLowerCase();
  if (base === TFJS_MODEL_NAME || base.endsWith('.json')) return base.endsWith('.json') ? 'tfjs' : undefined;
  const ext = base.includes('.') ? base.slice(base.lastIndexOf('.')) : '';
  if (ext === '.onnx') return 'onnx';
  if (ext === '.keras' || ext === '.h5' || ext === '.hdf5') return 'keras';
  if ((CHECKPOINT_EXTENSIONS as readonly string[]).includes(ext)) return 'checkpoint';
  return undefined;
}

/** A layer's output shape ([H, W, C] in descriptions) as its framework's users write it: [C, H, W] for NCHW (PyTorch). */
export function shapeInLayout(shape: readonly number[], layout: 'NHWC' | 'NCHW'): number[] {
  return layout === 'NCHW' && shape.length === 3 ? [shape[2]!, shape[0]!, shape[1]!] : [...shape];
}
