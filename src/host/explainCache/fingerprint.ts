/**
 * What identifies an explanation's inputs on the host side, without the worker: the model's files (weights,
 * loupe.json, labels) and the image, by content. Hashes are kept per file while its size, mtime and inode stay
 * the same, in memory and in a small file beside the cache, so a panel restored after a reload hashes nothing.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Files larger than this are not hashed (no model or image Loupe reads comes near it). */
const MAX_HASHED_BYTES = 4 * 1024 ** 3;
/** model.json is read to list its weight shards; larger than this it is not a model.json Loupe reads either. */
const MAX_MANIFEST_BYTES = 64 * 1024 ** 2;

/** Read in one piece below this size (one hash call), streamed above. */
const READ_WHOLE_BYTES = 256 * 1024 ** 2;

const memo = new Map<string, { stamp: string; hash: string }>();
let memoFile: string | undefined;
let saveTimer: NodeJS.Timeout | undefined;

/** Keeps the hashes in `file` too (read now, written shortly after each new hash, atomically). */
export function persistHashes(file: string): void {
  if (memoFile === file) return;
  memoFile = file;
  try {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { stamp: string; hash: string }>;
    for (const [k, v] of Object.entries(saved)) {
      if (typeof v?.stamp === 'string' && /^[0-9a-f]{64}$/.test(v.hash ?? '') && !memo.has(k)) memo.set(k, v);
    }
  } catch {
    // None yet, or damaged: the files are hashed again.
  }
}

function scheduleSave(): void {
  if (!memoFile || saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    const file = memoFile!;
    const tmp = `${file}.${process.pid}.tmp`;
    // The most recent 2,000 files are plenty for any workspace's models and images.
    const entries = [...memo].slice(-2000);
    fs.promises.mkdir(path.dirname(file), { recursive: true })
      .then(() => fs.promises.writeFile(tmp, JSON.stringify(Object.fromEntries(entries))))
      .then(() => fs.promises.rename(tmp, file))
      .catch(() => undefined);
  }, 200);
  saveTimer.unref?.();
}

/** sha256 of a file's bytes (streamed), or undefined when it is not a regular file. */
export async function fileHash(file: string): Promise<string | undefined> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch {
    return undefined;
  }
  if (!st.isFile() || st.size > MAX_HASHED_BYTES) return undefined;
  const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const known = memo.get(file);
  if (known?.stamp === stamp) return known.hash;
  const hash = createHash('sha256');
  if (st.size <= READ_WHOLE_BYTES) {
    hash.update(await fs.promises.readFile(file));
  } else {
    await new Promise<void>((resolve, reject) => {
      fs.createReadStream(file).on('data', (chunk) => hash.update(chunk)).on('end', resolve).on('error', reject);
    });
  }
  const digest = hash.digest('hex');
  memo.delete(file);
  memo.set(file, { stamp, hash: digest });
  scheduleSave();
  return digest;
}

/** The files a model's results depend on: the model file, its weight files, loupe.json and the labels. */
export async function modelFiles(modelPath: string): Promise<string[]> {
  const dir = path.dirname(modelPath);
  const files = [modelPath];
  const inside = (name: unknown): string | undefined => {
    if (typeof name !== 'string') return undefined;
    const p = path.resolve(dir, name);
    return p.startsWith(dir + path.sep) ? p : undefined;
  };
  if (/\.json$/i.test(modelPath)) {
    try {
      const st = await fs.promises.stat(modelPath);
      if (st.size <= MAX_MANIFEST_BYTES) {
        const manifest = (JSON.parse(await fs.promises.readFile(modelPath, 'utf8')) as { weightsManifest?: { paths?: unknown[] }[] }).weightsManifest;
        for (const group of Array.isArray(manifest) ? manifest : []) {
          for (const p of Array.isArray(group?.paths) ? group.paths : []) {
            const f = inside(p);
            if (f) files.push(f);
          }
        }
      }
    } catch {
      // An unreadable model.json fails in the worker with the right error; its bytes still key the result.
    }
  } else if (/\.onnx$/i.test(modelPath)) {
    // External data (torch.onnx.export writes `<file>.data` or per-tensor files) sits beside the file.
    try {
      for (const name of await fs.promises.readdir(dir)) {
        if (/\.(data|bin)$/i.test(name)) files.push(path.join(dir, name));
      }
    } catch {
      // The folder vanished: the worker says so.
    }
  }
  const sidecar = path.join(dir, 'loupe.json');
  files.push(sidecar, path.join(dir, 'labels.txt'));
  try {
    const labels = inside((JSON.parse(await fs.promises.readFile(sidecar, 'utf8')) as { labels?: unknown }).labels);
    if (labels) files.push(labels);
  } catch {
    // No or broken loupe.json: its bytes (or absence) are hashed below.
  }
  return [...new Set(files)];
}

/** One hash over the model's files' contents (a missing file counts as absent): new weights, preprocessing or labels → new key. */
export async function modelFingerprint(modelPath: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await modelFiles(path.resolve(modelPath))) {
    hash.update(`${path.basename(file)}\0${(await fileHash(file)) ?? 'absent'}\0`);
  }
  return hash.digest('hex');
}
