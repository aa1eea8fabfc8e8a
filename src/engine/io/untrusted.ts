import * as fs from 'node:fs';
import * as path from 'node:path';
import { LoupeError, type LoupeErrorCode } from '../../protocol/errors';

/**
 * The one way Loupe reads a file a user (or an attacker) put in the workspace: model files, weight
 * shards, external tensor data, sidecars, labels, images, archives. The file must be a regular file
 * (never a FIFO, device or folder, which would hang or never end), inside `inside` after resolving
 * symlinks when that is given, and no larger than `maxBytes`, checked before a byte is read.
 */
export interface UntrustedRead {
  /** Folder the file must stay in, after symlinks are resolved (e.g. the model's folder). */
  inside?: string;
  /** Largest size accepted; the size is checked on the open descriptor before reading. */
  maxBytes: number;
  /** Exact size the file must have (e.g. declared by a manifest), checked before reading. */
  expectBytes?: number;
  /** Error code for a missing or unreadable file (default MODEL_NOT_FOUND). */
  missingCode?: LoupeErrorCode;
  /** Error code for a file that is there but not acceptable (default MODEL_INVALID). */
  invalidCode?: LoupeErrorCode;
  /** Error code and hint for a file larger than maxBytes (default: invalidCode). */
  tooLarge?: { code: LoupeErrorCode; hint: string };
  /** What the file is, for messages: "weight shard", "external tensor data", … */
  what?: string;
  /** What to do when the file is missing. */
  missingHint?: string;
  /** The file that names this one (a model naming its shard): errors about leaving the folder name it. */
  referencedBy?: string;
}

/** Resolves `target` (absolute, or relative to `inside`) and checks that it stays inside `inside` after symlinks. */
export function resolveInside(target: string, inside: string, options: Pick<UntrustedRead, 'what' | 'invalidCode' | 'referencedBy'> = {}): string {
  const what = options.what ?? 'file';
  const code = options.invalidCode ?? 'MODEL_INVALID';
  const root = realOrSelf(path.resolve(inside));
  const resolved = path.resolve(inside, target);
  if (!isWithin(root, realOrSelf(resolved)) && !isWithin(path.resolve(inside), resolved)) {
    throw new LoupeError(code, `${what} '${target}' lies outside the folder ${inside}`, options.referencedBy ?? resolved,
      'Loupe reads the files a model refers to only from the model\'s own folder');
  }
  const real = realOrSelf(resolved);
  if (!isWithin(root, real)) {
    throw new LoupeError(code, `${what} '${target}' is a link to ${real}, outside the folder ${inside}`, options.referencedBy ?? resolved,
      'copy the file into the model\'s folder instead of linking to it');
  }
  return resolved;
}

/** Reads a whole untrusted file under the rules above. */
export function readUntrusted(file: string, options: UntrustedRead): Buffer {
  const what = options.what ?? 'file';
  const missing = options.missingCode ?? 'MODEL_NOT_FOUND';
  const invalid = options.invalidCode ?? 'MODEL_INVALID';
  const target = options.inside
    ? resolveInside(file, options.inside, { what, invalidCode: invalid, ...(options.referencedBy ? { referencedBy: options.referencedBy } : {}) })
    : path.resolve(file);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO without a writer must not block; it is refused below as not a regular file.
    fd = fs.openSync(target, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new LoupeError(missing, `cannot read the ${what} (${code})`, target, options.missingHint);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      throw new LoupeError(invalid, `the ${what} is not a regular file (${kindOf(stat)})`, target, 'point Loupe at a regular file');
    }
    if (options.expectBytes !== undefined && stat.size !== options.expectBytes) {
      throw new LoupeError(invalid, `the ${what} holds ${stat.size} bytes where ${options.expectBytes} are declared`, target,
        stat.size < options.expectBytes ? 'the file is truncated or stale: export it again' : 'the file does not belong to this model: export it again');
    }
    if (stat.size > options.maxBytes) {
      throw new LoupeError(options.tooLarge?.code ?? invalid, `the ${what} is ${formatBytes(stat.size)}, more than the ${formatBytes(options.maxBytes)} Loupe reads`, target,
        options.tooLarge?.hint);
    }
    const buffer = Buffer.allocUnsafe(stat.size);
    let offset = 0;
    while (offset < buffer.length) {
      const n = fs.readSync(fd, buffer, offset, buffer.length - offset, offset);
      if (n === 0) break;
      offset += n;
    }
    if (offset !== buffer.length) throw new LoupeError(invalid, `the ${what} changed while it was read`, target, 'try again');
    return buffer;
  } finally {
    fs.closeSync(fd);
  }
}

/** Like readUntrusted, undefined when the file does not exist (an optional file such as loupe.json). */
export function readUntrustedIfExists(file: string, options: UntrustedRead): Buffer | undefined {
  try {
    fs.lstatSync(path.resolve(options.inside ?? '', file));
  } catch {
    return undefined;
  }
  return readUntrusted(file, options);
}

export function isWithin(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    // A missing file: the open that follows reports it.
    return p;
  }
}

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a pipe';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
}
