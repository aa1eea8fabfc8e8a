/**
 * The simple probe format: one folder per concept, each holding image + mask pairs
 * (`<name>.png|.jpg` and `<name>.mask.png`, mask white where the concept is). An optional
 * `categories.json` maps concept names to categories (default category: "concept").
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LoupeError } from '../../../protocol/errors';
import { readImageFile, type DecodeOptions } from '../../image/decode';
import { readUntrustedIfExists } from '../../io/untrusted';
import type { ProbeDataset, ProbeSample } from './types';

const IMAGE = /\.(png|jpe?g)$/i;
const MASK_SUFFIX = '.mask.png';
export const DEFAULT_CATEGORY = 'concept';

function readCategories(root: string): Record<string, string> {
  const file = path.join(root, 'categories.json');
  const bytes = readUntrustedIfExists(file, { inside: root, maxBytes: 16 * 1024 * 1024, what: 'categories.json', missingCode: 'BAD_REQUEST', invalidCode: 'BAD_REQUEST' });
  if (!bytes) return {};
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && Object.values(parsed).every((v) => typeof v === 'string')) {
      return parsed as Record<string, string>;
    }
  } catch {
    // reported below
  }
  throw new LoupeError('BAD_REQUEST', 'must be a JSON object mapping concept names to category names', file);
}

export function openFolders(root: string, decode: DecodeOptions, limit?: number): ProbeDataset {
  const categoryOf = readCategories(root);
  const conceptDirs = fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const pairs: { concept: number; image: string; mask: string }[] = [];
  const stamp = createHash('sha256');
  conceptDirs.forEach((name, c) => {
    for (const file of fs.readdirSync(path.join(root, name)).sort()) {
      if (!IMAGE.test(file) || file.endsWith(MASK_SUFFIX)) continue;
      const image = path.join(root, name, file);
      const mask = path.join(root, name, file.replace(IMAGE, MASK_SUFFIX));
      if (!fs.existsSync(mask)) {
        throw new LoupeError('BAD_REQUEST', `has no mask ${path.basename(mask)} beside it`, image,
          `each image of a concept folder needs a mask named <name>${MASK_SUFFIX}, white where the concept is`);
      }
      for (const f of [image, mask]) { const s = fs.statSync(f); stamp.update(`${f}:${s.size}:${s.mtimeMs};`); }
      pairs.push({ concept: c + 1, image, mask });
    }
  });
  if (pairs.length === 0) {
    throw new LoupeError('BAD_REQUEST', 'holds no concept folders with image + mask pairs', root,
      `use a Broden dataset (index.csv …) or one folder per concept with <name>.png and <name>${MASK_SUFFIX}`);
  }
  const used = pairs.slice(0, limit ?? pairs.length);
  const concepts = [{ name: '-', category: '' }, ...conceptDirs.map((name) => ({ name, category: categoryOf[name] ?? DEFAULT_CATEGORY }))];
  const categories = [...new Set(concepts.slice(1).map((c) => c.category))];

  const sample = async (i: number): Promise<ProbeSample> => {
    const pair = used[i]!;
    const image = await readImageFile(pair.image, decode, root);
    const mask = await readImageFile(pair.mask, decode, root);
    if (mask.width !== image.width || mask.height !== image.height) {
      throw new LoupeError('BAD_REQUEST', `mask is ${mask.width}×${mask.height} but its image is ${image.width}×${image.height}`, pair.mask,
        'masks must have their image\'s size');
    }
    const plane = new Uint16Array(mask.width * mask.height);
    for (let p = 0; p < plane.length; p++) {
      const d = mask.data;
      if (d[p * 4 + 3]! >= 128 && (d[p * 4]! + d[p * 4 + 1]! + d[p * 4 + 2]!) / 3 >= 128) plane[p] = pair.concept;
    }
    const category = categories.indexOf(concepts[pair.concept]!.category);
    return { image, segmentation: { width: mask.width, height: mask.height, planes: [plane], imageLabels: [], categories: [category] } };
  };

  return {
    kind: 'folders',
    name: `${path.basename(root)} (${conceptDirs.length} concepts, ${used.length} images)`,
    identity: `folders/${root}/${stamp.digest('hex')}/${used.length}`,
    categories,
    concepts,
    length: used.length,
    sample,
  };
}
