// HDF5 through jsfive, under Loupe's rules for hostile files: every failure of the parser becomes a
// LoupeError naming the file, and no dataset is read before its declared size is checked.
import * as jsfive from 'jsfive';
import { LoupeError } from '../../../../protocol/errors';

export type H5Group = jsfive.Group;
export type H5Dataset = jsfive.Dataset;

export const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Opens HDF5 bytes; `what` names them in messages ("the file", "model.weights.h5 inside the .keras file"). */
export function openHdf5(bytes: Buffer, file: string, what: string): H5Group {
  if (bytes.length < HDF5_MAGIC.length || !bytes.subarray(0, HDF5_MAGIC.length).equals(HDF5_MAGIC)) {
    throw new LoupeError('MODEL_INVALID', `${what} is not an HDF5 file (it does not start with the HDF5 signature)`, file,
      'Keras writes legacy models with model.save("model.h5"); Keras 3 models are .keras files');
  }
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return guard(file, what, () => new jsfive.File(copy));
}

/** Runs a jsfive call, turning what it throws (often a bare string) into a LoupeError about the file. */
export function guard<T>(file: string, what: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof LoupeError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new LoupeError('MODEL_INVALID', `${what} could not be read as HDF5 (${message.slice(0, 200)})`, file,
      'the file is damaged or was not written by Keras: save the model again');
  }
}

export function isGroup(x: unknown): x is H5Group {
  return x instanceof jsfive.Group;
}

/** The child `key` of a group, or undefined when the group has no such link. */
export function child(group: H5Group, key: string, file: string): H5Group | H5Dataset | undefined {
  return guard(file, 'the HDF5 data', () => (group.keys.includes(key) ? group.get(key) ?? undefined : undefined));
}

/** Follows a `/`-separated path of groups; undefined when a step is missing or not a group. */
export function groupAt(root: H5Group, path: string, file: string): H5Group | undefined {
  let g: H5Group = root;
  for (const key of path.split('/').filter(Boolean)) {
    const next = child(g, key, file);
    if (!isGroup(next)) return undefined;
    g = next;
  }
  return g;
}

/** A string attribute (HDF5 fixed-length strings come padded with NULs; byte arrays are decoded). */
export function attrString(attrs: Record<string, unknown>, key: string): string | undefined {
  const v = attrs[key];
  if (typeof v === 'string') return v.replace(/\0+$/, '');
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8').replace(/\0+$/, '');
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0].replace(/\0+$/, '');
  return undefined;
}

export function attrStrings(attrs: Record<string, unknown>, key: string): string[] {
  const v = attrs[key];
  if (!Array.isArray(v)) return [];
  return v.filter((s): s is string => typeof s === 'string').map((s) => s.replace(/\0+$/, ''));
}

/** One weight array as float32, after checking its declared size against what is left of `budget`. */
export function readFloat32(ds: H5Dataset, where: string, file: string, budget: { bytes: number }): { shape: number[]; data: Float32Array } {
  const { shape, dtype, filters } = guard(file, where, () => ({ shape: ds.shape ?? [], dtype: ds.dtype, filters: ds.filter_pipeline }));
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new LoupeError('WEIGHTS_INVALID', `${where} has no valid shape`, file);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const itemBytes = dtype === '<f4' ? 4 : dtype === '<f8' ? 8 : 0;
  if (!itemBytes) {
    throw new LoupeError('WEIGHTS_INVALID', `${where} is stored as ${JSON.stringify(dtype)}, not float32`, file,
      'Loupe reads float32 (or float64) weights: save the model with the default float32 dtype policy');
  }
  if (filters && filters.length > 0) {
    throw new LoupeError('WEIGHTS_INVALID', `${where} is stored compressed`, file,
      'Keras writes weights uncompressed; Loupe does not inflate HDF5 chunks it cannot bound');
  }
  if (count * itemBytes > budget.bytes) {
    throw new LoupeError('WEIGHTS_INVALID', `${where} declares ${count} values, more than the file can hold`, file,
      'the file is damaged or crafted: save the model again');
  }
  budget.bytes -= count * itemBytes;
  const value = guard(file, where, () => ds.value);
  if (!value || value.length !== count) {
    throw new LoupeError('WEIGHTS_INVALID', `${where} holds ${value?.length ?? 0} values where its shape [${shape.join(', ')}] needs ${count}`, file);
  }
  return { shape, data: value instanceof Float32Array ? value : Float32Array.from(value) };
}
