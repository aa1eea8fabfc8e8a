/**
 * The Explain panel's results, in memory and on disk (the extension's global storage), keyed by the model's
 * fingerprint and a key over everything else a result depends on. On disk each entry is a folder (`entry.json`
 * + one file per array) built aside and renamed into place (src/engine/cache/entries.ts, as dissections and
 * TCAV); an entry whose JSON is unreadable, whose arrays do not match their recorded length and hash, or
 * that is half-written, is ignored (and replaced by the next write). Beyond `maxBytes` the least recently
 * used entries go. No `vscode` import: tested in Node.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beginEntry, entryDir, entryKey, readEntry, type StoredResult } from '../../protocol/node/cacheEntries';
import type { AttributionOutput, RgbaImage } from '../../protocol/results';
import type { ForwardSummary } from '../../protocol/worker';
import type { MapSummary } from '../../protocol/types';

/** Bumped when what an entry holds or how a map is computed changes: old entries are then never read. */
export const CACHE_FORMAT = 1;
const ENTRY_FILE = 'entry.json';
const PARTIAL = '.partial-';

export interface CachedForward extends ForwardSummary {
  image: RgbaImage;
  /** The layers Grad-CAM can use and the number of classes (from the model's description), so a restored panel needs no worker. */
  layers?: string[];
  numClasses?: number;
  /** The layers the Grad-CAM picker offers before "show all" (explainData.featureLayers). */
  featureLayers?: string[];
}

type Blobs = Record<string, Float32Array | Uint8Array>;
interface BlobInfo { file: string; bytes: number; sha: string; type: 'f32' | 'u8' }
interface Entry extends StoredResult {
  kind: 'forward' | 'map';
  meta: unknown;
  blobs: Record<string, BlobInfo>;
}

export interface ExplainCacheOptions {
  /** Folder of the disk cache; undefined: memory only. */
  root: string | undefined;
  /** Disk cap in bytes (0: nothing on disk). */
  maxBytes: number;
  /** Memory cap in bytes (default 128 MB). */
  memoryBytes?: number;
  log?: (line: string) => void;
}

export function forwardKey(parts: { image: string; preprocessing: unknown; topK: number }): string {
  return entryKey(CACHE_FORMAT, { kind: 'forward', ...parts, preprocessing: parts.preprocessing ?? null });
}

export function mapKey(parts: {
  image: string; preprocessing: unknown; classIndex: number; method: string; params: unknown; layer: string | undefined; target: string;
}): string {
  return entryKey(CACHE_FORMAT, { kind: 'map', ...parts, preprocessing: parts.preprocessing ?? null, layer: parts.layer ?? null });
}

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

function bytesOf(v: Float32Array | Uint8Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function isEntry(v: unknown): v is Entry {
  const e = v as Entry;
  return typeof e === 'object' && e !== null && (e.kind === 'forward' || e.kind === 'map') && typeof e.meta === 'object' && e.meta !== null
    && typeof e.blobs === 'object' && e.blobs !== null
    && Object.values(e.blobs).every((b) => typeof b?.file === 'string' && /^[\w-]+\.bin$/.test(b.file)
      && Number.isInteger(b.bytes) && b.bytes >= 0 && typeof b.sha === 'string' && (b.type === 'f32' || b.type === 'u8'));
}

export class ExplainCache {
  private readonly memory = new Map<string, { value: unknown; bytes: number }>();
  private memoryUsed = 0;
  private readonly memoryBytes: number;
  private readonly log: (line: string) => void;
  /** Writes run one after another, each followed by the size check. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ExplainCacheOptions) {
    this.memoryBytes = o.memoryBytes ?? 128 * 1024 ** 2;
    this.log = o.log ?? (() => undefined);
  }

  async getForward(fingerprint: string, key: string): Promise<CachedForward | undefined> {
    return this.get(fingerprint, key, 'forward', (meta, blobs) => {
      const m = meta as ForwardSummary & { width: number; height: number };
      const rgba = blobs.image;
      if (!(rgba instanceof Uint8Array) || rgba.length !== m.width * m.height * 4 || !Array.isArray(m.predictions)) return undefined;
      const { width, height, ...summary } = m;
      return { ...summary, image: { width, height, data: Float32Array.from(rgba) } };
    });
  }

  putForward(fingerprint: string, key: string, value: CachedForward): Promise<void> {
    const { image, ...summary } = value;
    const rgba = Uint8Array.from(image.data, (v) => Math.max(0, Math.min(255, Math.round(v))));
    return this.put(fingerprint, key, 'forward', { ...summary, width: image.width, height: image.height }, { image: rgba }, value);
  }

  async getMap(fingerprint: string, key: string): Promise<AttributionOutput | undefined> {
    return this.get(fingerprint, key, 'map', (meta, blobs) => {
      const summary = meta as MapSummary;
      const { data, display, lowres } = blobs;
      if (!(data instanceof Float32Array) || !(display instanceof Float32Array) || typeof summary.method !== 'string') return undefined;
      const count = (shape: unknown): number => (Array.isArray(shape) ? shape.reduce((a: number, b: number) => a * b, 1) : -1);
      if (data.length !== count(summary.shape)) return undefined;
      if (summary.lowresShape && (!(lowres instanceof Float32Array) || lowres.length !== count(summary.lowresShape))) return undefined;
      return { summary, data, display, ...(lowres instanceof Float32Array ? { lowres } : {}) };
    });
  }

  putMap(fingerprint: string, key: string, map: AttributionOutput): Promise<void> {
    const blobs: Blobs = { data: map.data, display: map.display, ...(map.lowres ? { lowres: map.lowres } : {}) };
    return this.put(fingerprint, key, 'map', map.summary, blobs, map);
  }

  /** Waits for the writes started so far (tests, and before reading the disk directly). */
  flush(): Promise<void> {
    return this.writes.then(() => undefined);
  }

  /** Forgets what is in memory (a new window starts like this). */
  clearMemory(): void {
    this.memory.clear();
    this.memoryUsed = 0;
  }

  private memoryKey(fingerprint: string, key: string): string {
    return `${fingerprint}/${key}`;
  }

  private remember(id: string, value: unknown, bytes: number): void {
    const old = this.memory.get(id);
    if (old) this.memoryUsed -= old.bytes;
    this.memory.delete(id);
    if (bytes > this.memoryBytes) return;
    this.memory.set(id, { value, bytes });
    this.memoryUsed += bytes;
    for (const [k, v] of this.memory) {
      if (this.memoryUsed <= this.memoryBytes) break;
      this.memory.delete(k);
      this.memoryUsed -= v.bytes;
    }
  }

  private async get<T>(fingerprint: string, key: string, kind: Entry['kind'], build: (meta: unknown, blobs: Blobs) => T | undefined): Promise<T | undefined> {
    const id = this.memoryKey(fingerprint, key);
    const hit = this.memory.get(id);
    if (hit) {
      this.memory.delete(id);
      this.memory.set(id, hit); // most recently used last
      return hit.value as T;
    }
    if (!this.o.root || this.o.maxBytes <= 0) return undefined;
    const dir = entryDir(this.o.root, fingerprint, key);
    const entry = readEntry<Entry>(dir, ENTRY_FILE, isEntry);
    if (!entry) {
      if (fs.existsSync(dir)) this.log(`explanation cache: ignoring the unreadable entry ${dir} (it is computed again)`);
      return undefined;
    }
    if (entry.kind !== kind) return undefined;
    const blobs: Blobs = {};
    let bytes = 0;
    for (const [name, info] of Object.entries(entry.blobs)) {
      let raw: Buffer;
      try {
        raw = await fs.promises.readFile(path.join(dir, info.file));
      } catch {
        raw = Buffer.alloc(0);
      }
      if (raw.length !== info.bytes || sha(raw) !== info.sha || (info.type === 'f32' && raw.length % 4 !== 0)) {
        this.log(`explanation cache: ignoring the damaged entry ${dir} (${info.file}: ${raw.length} bytes, expected ${info.bytes}); it is computed again`);
        return undefined;
      }
      // Copied out: Buffer's pooled memory may be unaligned for a Float32Array.
      const copy = new Uint8Array(raw.length);
      copy.set(raw);
      blobs[name] = info.type === 'f32' ? new Float32Array(copy.buffer) : copy;
      bytes += raw.length;
    }
    const value = build(entry.meta, blobs);
    if (value === undefined) {
      this.log(`explanation cache: ignoring the inconsistent entry ${dir}; it is computed again`);
      return undefined;
    }
    // Last used = the entry file's mtime: what the size cap evicts by.
    const now = new Date();
    await fs.promises.utimes(path.join(dir, ENTRY_FILE), now, now).catch(() => undefined);
    this.remember(id, value, bytes);
    return value;
  }

  private put(fingerprint: string, key: string, kind: Entry['kind'], meta: unknown, blobs: Blobs, value: unknown): Promise<void> {
    const total = Object.values(blobs).reduce((n, b) => n + b.byteLength, 0);
    this.remember(this.memoryKey(fingerprint, key), value, total);
    const root = this.o.root;
    if (!root || this.o.maxBytes <= 0 || total > this.o.maxBytes) return Promise.resolve();
    const write = async (): Promise<void> => {
      const pending = beginEntry<Entry>(entryDir(root, fingerprint, key), ENTRY_FILE);
      try {
        const infos: Record<string, BlobInfo> = {};
        for (const [name, array] of Object.entries(blobs)) {
          const bytes = bytesOf(array);
          const file = `${name}.bin`;
          await fs.promises.writeFile(path.join(pending.tmp, file), bytes);
          infos[name] = { file, bytes: bytes.length, sha: sha(bytes), type: array instanceof Float32Array ? 'f32' : 'u8' };
        }
        pending.commit({ kind, meta, blobs: infos, dir: '', cached: false });
      } catch (err) {
        pending.abort();
        throw err;
      }
      await this.enforceCap(root);
    };
    const run = this.writes.then(write, write);
    this.writes = run.catch((err: Error) => this.log(`explanation cache: could not store an entry: ${err.message}`));
    return this.writes.then(() => undefined);
  }

  /** Removes the least recently used entries until the disk cache fits in `maxBytes`. */
  async enforceCap(root = this.o.root): Promise<void> {
    if (!root) return;
    const entries: { dir: string; bytes: number; used: number }[] = [];
    const list = async (dir: string): Promise<string[]> => fs.promises.readdir(dir).catch(() => [] as string[]);
    for (const model of await list(root)) {
      for (const name of await list(path.join(root, model))) {
        if (name.includes(PARTIAL)) continue;
        const dir = path.join(root, model, name);
        let bytes = 0;
        let used = 0;
        for (const file of await list(dir)) {
          const st = await fs.promises.stat(path.join(dir, file)).catch(() => undefined);
          if (!st) continue;
          bytes += st.size;
          if (file === ENTRY_FILE) used = st.mtimeMs;
        }
        entries.push({ dir, bytes, used });
      }
    }
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    entries.sort((a, b) => a.used - b.used);
    for (const e of entries) {
      if (total <= this.o.maxBytes) break;
      await fs.promises.rm(e.dir, { recursive: true, force: true });
      total -= e.bytes;
      this.log(`explanation cache: removed ${e.dir} (${e.bytes} bytes, least recently used) to stay under ${this.o.maxBytes} bytes`);
    }
  }
}
