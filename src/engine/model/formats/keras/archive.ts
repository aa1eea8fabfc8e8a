// The entries of a Keras 3 `.keras` zip that Loupe needs, with every size bounded before and while it
// is inflated: a zip bomb (huge declared sizes, a lying header, thousands of entries) is refused.
import * as yauzl from 'yauzl';
import { LoupeError } from '../../../../protocol/errors';
import { formatBytes } from '../../../io/untrusted';

export const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

export const ARCHIVE_LIMITS = {
  /** A .keras file holds config.json, metadata.json, model.weights.h5 and perhaps a few assets. */
  maxEntries: 256,
  /** Sum of the declared sizes of the entries Loupe inflates. */
  maxTotalBytes: 1024 ** 3,
  /** Inflated size over stored size above which an entry (larger than `ratioFloorBytes`) is a bomb. */
  maxRatio: 100,
  ratioFloorBytes: 1024 * 1024,
};

/** The entries Loupe reads from a .keras file, by name; other entries are listed but not inflated. */
export async function readKerasArchive(bytes: Buffer, file: string, wanted: readonly string[]): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false }, (err, z) => {
      if (err || !z) reject(notAZip(file, err?.message));
      else resolve(z);
    });
  });
  try {
    if (zip.entryCount > ARCHIVE_LIMITS.maxEntries) {
      throw bomb(file, `it lists ${zip.entryCount} entries (a .keras file has a handful)`);
    }
    const entries = await listEntries(zip, file);
    const picked = new Map<string, yauzl.Entry>();
    let total = 0;
    for (const entry of entries) {
      if (!wanted.includes(entry.fileName)) continue;
      if (picked.has(entry.fileName)) throw bomb(file, `it holds '${entry.fileName}' twice`);
      const size = entry.uncompressedSize;
      if (size > ARCHIVE_LIMITS.ratioFloorBytes && size > ARCHIVE_LIMITS.maxRatio * Math.max(1, entry.compressedSize)) {
        throw bomb(file, `'${entry.fileName}' would inflate ${formatBytes(entry.compressedSize)} to ${formatBytes(size)}`);
      }
      total += size;
      if (total > ARCHIVE_LIMITS.maxTotalBytes) {
        throw bomb(file, `its entries declare ${formatBytes(total)}, more than the ${formatBytes(ARCHIVE_LIMITS.maxTotalBytes)} Loupe inflates`);
      }
      picked.set(entry.fileName, entry);
    }
    const out = new Map<string, Buffer>();
    for (const [name, entry] of picked) out.set(name, await inflate(zip, entry, file));
    return out;
  } finally {
    zip.close();
  }
}

function listEntries(zip: yauzl.ZipFile, file: string): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => { entries.push(entry); zip.readEntry(); });
    zip.on('end', () => resolve(entries));
    zip.on('error', (err: Error) => reject(notAZip(file, err.message)));
    zip.readEntry();
  });
}

/** Inflates one entry; yauzl checks the bytes against the declared size, and so does this loop. */
function inflate(zip: yauzl.ZipFile, entry: yauzl.Entry, file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) { reject(notAZip(file, err?.message)); return; }
      const chunks: Buffer[] = [];
      let length = 0;
      stream.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > entry.uncompressedSize) {
          stream.destroy();
          reject(bomb(file, `'${entry.fileName}' inflates to more than the ${entry.uncompressedSize} bytes it declares`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (e: Error) => reject(/too many bytes|bytes in the stream/i.test(e.message)
        ? bomb(file, `'${entry.fileName}' does not inflate to the size it declares (${e.message})`)
        : notAZip(file, e.message)));
      stream.on('end', () => resolve(Buffer.concat(chunks, length)));
    });
  });
}

function notAZip(file: string, detail?: string): LoupeError {
  return new LoupeError('MODEL_INVALID', `is not a readable .keras archive (a zip file)${detail ? `: ${detail}` : ''}`, file,
    'Keras 3 writes .keras files with model.save("model.keras"); save the model again');
}

function bomb(file: string, detail: string): LoupeError {
  return new LoupeError('MODEL_INVALID', `refused as a zip bomb: ${detail}`, file,
    'a .keras file written by Keras holds config.json, metadata.json and model.weights.h5 at their real sizes');
}
