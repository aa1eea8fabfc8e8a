/**
 * TCAV's image sets: the class's images, each concept's images and the random images, from folders
 * (read under the untrusted-file rules) or from the probe generator. A set is a pool of image
 * references; which of them each run uses is drawn later (plan.ts). An image's key identifies it
 * across sets, so an image shared by two pools is computed once and never put on both sides of a CAV.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TcavConceptSpec, TcavRandomSpec } from '../../protocol/tcav';
import { BUILTIN_CONCEPTS, builtinConceptName, CONCEPT_IMAGES_VERSION, drawConceptImage, RANDOM_CONCEPT } from '../dissection/probe/conceptImages';
import { LoupeError } from '../../protocol/errors';
import { decodeImage, maxFileBytes, type DecodeOptions } from '../image/decode';
import { readUntrusted } from '../io/untrusted';
import { hashString, itemSeed } from '../random';
import type { RgbaImage } from '../types';

export interface ImageRef {
  /** Identity: the file's path, or the generator's concept and index. */
  key: string;
  load(): Promise<RgbaImage>;
}

export interface ImagePool {
  /** Display name: the folder's name or the built-in concept's. */
  name: string;
  /** `builtin:red`, or the folder's path. */
  source: string;
  /** Changes whenever the images could: part of the cache key. */
  identity: string;
  images: ImageRef[];
}

export interface RandomSource {
  /** Sets are drawn from this pool … */
  pool?: ImagePool;
  /** … or used as given (sub-folders of the random folder). */
  sets?: ImagePool[];
  source: string;
  identity: string;
}

const IMAGE = /\.(png|jpe?g)$/i;
const MASK = /\.mask\.png$/i;
/** Images read from one folder at most (sorted by name); more are left out and said in the notes. */
export const MAX_FOLDER_IMAGES = 2000;
const MIN_SET = 2;

interface Listing { images: string[]; folders: string[] }

function listFolder(dir: string, what: string): Listing {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new LoupeError('BAD_REQUEST', `${what} folder not found`, dir, 'give the path of a folder of PNG or JPEG images');
  }
  if (!stat.isDirectory()) throw new LoupeError('BAD_REQUEST', `is not a folder (the ${what} must be a folder of images)`, dir);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new LoupeError('BAD_REQUEST', `cannot read the ${what} folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`, dir,
      'check the folder\'s permissions');
  }
  const names = entries.map((e) => e.name).sort();
  const kind = new Map(entries.map((e) => [e.name, e]));
  return {
    // Symlinks are listed too: readUntrusted refuses those that point outside the folder.
    images: names.filter((n) => IMAGE.test(n) && !MASK.test(n) && !kind.get(n)!.isDirectory()).map((n) => path.join(dir, n)),
    folders: names.filter((n) => kind.get(n)!.isDirectory() && !n.startsWith('.')).map((n) => path.join(dir, n)),
  };
}

function fileRef(file: string, folder: string, decode: DecodeOptions): ImageRef {
  return {
    key: file,
    load: async () => decodeImage(readUntrusted(file, {
      inside: folder, maxBytes: maxFileBytes(decode.maxPixels), missingCode: 'IMAGE_NOT_FOUND', invalidCode: 'IMAGE_INVALID', what: 'image',
    }), file, decode),
  };
}

function stamp(files: string[]): string {
  const hash = createHash('sha256');
  for (const f of files) {
    try {
      const s = fs.statSync(f);
      hash.update(`${f}:${s.size}:${s.mtimeMs};`);
    } catch {
      hash.update(`${f}:missing;`);
    }
  }
  return hash.digest('hex').slice(0, 32);
}

function folderPool(dir: string, files: string[], decode: DecodeOptions, what: string, notes: string[]): ImagePool {
  if (files.length < MIN_SET) {
    throw new LoupeError('BAD_REQUEST', files.length === 0 ? `the ${what} folder holds no PNG or JPEG images` : `the ${what} folder holds 1 image; a set needs at least ${MIN_SET}`,
      dir, 'add images (PNG or JPEG; *.mask.png files are not counted)');
  }
  const used = files.slice(0, MAX_FOLDER_IMAGES);
  if (used.length < files.length) notes.push(`${path.basename(dir)}: the first ${used.length} of ${files.length} images (by name) are used`);
  return { name: path.basename(dir), source: dir, identity: `folder:${dir}:${stamp(used)}:${used.length}`, images: used.map((f) => fileRef(f, dir, decode)) };
}

/** The class's images: every PNG/JPEG directly in the folder. */
export function openClassImages(folder: string, decode: DecodeOptions, notes: string[]): ImagePool {
  const dir = path.resolve(folder);
  return folderPool(dir, listFolder(dir, 'class images').images, decode, 'class images', notes);
}

export interface GeneratorSpec {
  /** Side of the generated images (the model's larger input side, within the generator's range). */
  size: number;
  seed: number;
}

/** `count` generated images of built-in concept `name` (keys shared with any other pool of the same concept and seed). */
export function builtinPool(name: string, count: number, gen: GeneratorSpec): ImagePool {
  // Each concept its own stream; the run's seed picks the images, so other seeds test other images.
  const seed = itemSeed(gen.seed, hashString(name));
  const images = Array.from({ length: count }, (_, i) => ({
    key: `builtin:${name}:${gen.size}:${seed}:${i}`,
    load: async () => drawConceptImage(name, gen.size, seed, i),
  }));
  return { name, source: `builtin:${name}`, identity: `builtin:${CONCEPT_IMAGES_VERSION}:${name}:${gen.size}:${seed}:${count}`, images };
}

/**
 * The concept pools a spec names: a folder of images is one concept; a folder of concept folders
 * (dissection's format) is one concept per sub-folder; `builtin:<name>` is generated (`random`: the
 * same built-in random images as the random sets, a control).
 */
export function openConcepts(spec: TcavConceptSpec, decode: DecodeOptions, gen: GeneratorSpec & { count: number; randomImages: number },
  notes: string[]): ImagePool[] {
  if (spec.kind === 'builtin') {
    const name = builtinConceptName(spec.name);
    if (!name) {
      throw new LoupeError('BAD_REQUEST', `'${spec.name}' is not a built-in concept`, undefined,
        `built-in concepts: ${BUILTIN_CONCEPTS.join(', ')}`);
    }
    return [builtinPool(name, name === RANDOM_CONCEPT ? gen.randomImages : gen.count, gen)];
  }
  const dir = path.resolve(spec.path);
  const listing = listFolder(dir, 'concept');
  if (listing.images.length > 0 || listing.folders.length === 0) return [folderPool(dir, listing.images, decode, 'concept', notes)];
  const pools = listing.folders
    .map((sub) => ({ sub, images: listFolder(sub, 'concept').images }))
    .filter((c) => c.images.length > 0);
  if (pools.length === 0) {
    throw new LoupeError('BAD_REQUEST', 'holds neither images nor concept folders with images', dir,
      'give a folder of one concept\'s images, or a folder with one sub-folder of images per concept');
  }
  return pools.map((c) => folderPool(c.sub, c.images, decode, 'concept', notes));
}

/** Random images: built-in scenes, a flat folder to draw sets from, or sub-folders used as given. */
export function openRandom(spec: TcavRandomSpec, decode: DecodeOptions, gen: GeneratorSpec & { randomImages: number }, notes: string[]): RandomSource {
  if (spec.kind === 'builtin') {
    const pool = builtinPool(RANDOM_CONCEPT, gen.randomImages, gen);
    return { pool, source: 'builtin', identity: pool.identity };
  }
  const dir = path.resolve(spec.path);
  const listing = listFolder(dir, 'random');
  if (listing.images.length > 0) {
    const pool = folderPool(dir, listing.images, decode, 'random', notes);
    if (listing.folders.length > 0) notes.push(`random: sets are drawn from the ${pool.images.length} images directly in ${path.basename(dir)}; its sub-folders are not used`);
    return { pool, source: dir, identity: pool.identity };
  }
  if (listing.folders.length === 0) {
    throw new LoupeError('BAD_REQUEST', 'the random folder holds no PNG or JPEG images', dir,
      'give a folder of varied images, or a folder of sub-folders (one random set each), or use the built-in random images');
  }
  const sets = listing.folders.map((sub) => folderPool(sub, listFolder(sub, 'random set').images, decode, 'random set', notes));
  return { sets, source: dir, identity: sets.map((s) => s.identity).join('|') };
}
