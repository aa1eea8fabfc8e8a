import * as os from 'node:os';

/**
 * NumPy .npy files (format spec: numpy.lib.format), float32 little-endian, C order only —
 * the one flavour Loupe writes, so `np.load('gradient.npy')` gives the raw map.
 */

const LITTLE_ENDIAN = os.endianness() === 'LE';
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
/** The spec pads magic + version + header length + header to a multiple of 64 bytes. */
const ALIGN = 64;

export function encodeNpy(data: Float32Array, shape: number[]): Buffer {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`encodeNpy: bad shape [${shape.join(', ')}]`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`encodeNpy: shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  }
  // Python tuple syntax: a 1-tuple needs its trailing comma.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${tuple}, }`;
  const prefix = MAGIC.length + 2 + 2; // magic, version 1.0, uint16 header length
  const padded = Math.ceil((prefix + dict.length + 1) / ALIGN) * ALIGN;
  const headerLen = padded - prefix;
  if (headerLen > 0xffff) throw new RangeError('encodeNpy: header too long for format 1.0');
  const header = dict.padEnd(headerLen - 1, ' ') + '\n';

  const out = Buffer.alloc(padded + data.length * 4);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerLen, 8);
  out.write(header, prefix, 'latin1');
  if (LITTLE_ENDIAN) {
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, padded);
  } else {
    for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i]!, padded + i * 4);
  }
  return out;
}

/** Reads a .npy file holding little-endian float32 in C order (versions 1.0, 2.0 and 3.0). */
export function decodeNpy(buf: Buffer): { data: Float32Array; shape: number[] } {
  const fail = (why: string): never => {
    throw new Error(`not a float32 .npy file Loupe can read: ${why}`);
  };
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) fail('missing the \\x93NUMPY magic');
  const major = buf[6]!;
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail('truncated header');
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else {
    return fail(`unknown format version ${major}.${buf[7]}`);
  }
  const dataStart = start + headerLen;
  if (dataStart > buf.length) fail('truncated header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, dataStart);

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (descr === undefined) fail('no descr in the header');
  if (descr !== '<f4') fail(`dtype '${descr}' (only '<f4', little-endian float32, is supported)`);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  if (fortran === undefined) fail('no fortran_order in the header');
  if (fortran === 'True') fail('Fortran (column-major) order (only C order is supported)');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) return fail('no shape in the header');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : fail(`bad shape entry '${s}'`)));

  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length - dataStart !== count * 4) {
    fail(`shape (${shape.join(', ')}) needs ${count * 4} data bytes, the file has ${buf.length - dataStart}`);
  }
  // Copy: the data may not sit at a 4-byte-aligned offset of the underlying ArrayBuffer.
  const data = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    buf.copy(Buffer.from(data.buffer), 0, dataStart);
  } else {
    for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(dataStart + i * 4);
  }
  return { data, shape };
}
