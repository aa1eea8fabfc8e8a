/**
 * Walks a PNG's chunks and checks their lengths and CRCs before pngjs decodes it: pngjs's sync
 * reader reports a bad CRC or a cut-off file only as "unrecognised content at end of stream",
 * which tells the user nothing. Returns the problem, or undefined when the structure is sound.
 */
export function pngStructureProblem(b: Uint8Array): string | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 8;
  let sawData = false;
  while (pos < b.length) {
    if (pos + 8 > b.length) return `the file is cut off (${b.length} bytes, in a chunk header)`;
    const len = view.getUint32(pos);
    const type = String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!);
    if (!/^[A-Za-z]{4}$/.test(type)) return `bad chunk type at byte ${pos}`;
    if (pos + 12 + len > b.length) return `the file is cut off (${b.length} bytes, inside the ${type} chunk)`;
    const stored = view.getUint32(pos + 8 + len);
    if (crc32(b, pos + 4, pos + 8 + len) !== stored) return `the ${type} chunk fails its CRC check (the file is damaged)`;
    if (type === 'IDAT') sawData = true;
    if (type === 'IEND') return sawData ? undefined : 'no image data (IDAT) before IEND';
    pos += 12 + len;
  }
  return `the file is cut off (${b.length} bytes, no IEND chunk)`;
}

let table: Uint32Array | undefined;

/** CRC-32 (ISO 3309, the PNG spec's Annex D) of b[start, end). */
export function crc32(b: Uint8Array, start = 0, end = b.length): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = table[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
