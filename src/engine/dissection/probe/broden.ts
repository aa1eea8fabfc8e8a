/**
 * Reader for Broden-format datasets (Bau et al.'s broden1_224 / broden1_227 and anything written
 * like them): index.csv lists each image with its segmentation files per category; label.csv and
 * category.csv name the concepts; segmentation PNGs encode label ids as R + 256·G.
 * A category cell holds ';'-separated PNG names (pixel labels) or numbers (whole-image labels).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { LoupeError } from '../../../protocol/errors';
import { readImageFile, type DecodeOptions } from '../../image/decode';
import { readUntrusted } from '../../io/untrusted';
import type { Concept, ProbeDataset, ProbeSample } from './types';

type Row = Record<string, string>;

/** Broden's index.csv for 63,000 images is ~10 MB. */
const MAX_CSV_BYTES = 256 * 1024 * 1024;

function readCsv(file: string): Row[] {
  if (!fs.existsSync(file)) {
    throw new LoupeError('BAD_REQUEST', 'is missing from the Broden dataset', file, 'a Broden folder needs index.csv, category.csv and label.csv');
  }
  const text = readUntrusted(file, {
    inside: path.dirname(file), maxBytes: MAX_CSV_BYTES, what: 'dataset table', missingCode: 'BAD_REQUEST', invalidCode: 'BAD_REQUEST',
    missingHint: 'a Broden folder needs index.csv, category.csv and label.csv',
  }).toString('utf8');
  try {
    return parse(text, { columns: true, skip_empty_lines: true, trim: true }) as Row[];
  } catch (err) {
    throw new LoupeError('BAD_REQUEST', `is not a valid CSV file: ${(err as Error).message}`, file, 'restore the file from the dataset');
  }
}

function requireColumns(rows: Row[], columns: string[], file: string): void {
  const have = rows.length ? Object.keys(rows[0]!) : [];
  const missing = columns.filter((c) => !have.includes(c));
  if (rows.length === 0 || missing.length) {
    throw new LoupeError('BAD_REQUEST', rows.length === 0 ? 'has no rows' : `lacks the column(s) ${missing.join(', ')}`, file,
      'Broden CSVs have a header row; restore the file from the dataset');
  }
}

/** "color(49);object(2)" → "color": a label's primary category is the one it occurs in most. */
function primaryCategory(cell: string): string {
  let best = '';
  let most = -1;
  for (const part of cell.split(';')) {
    const m = /^\s*([^()]+?)\s*(?:\((\d+)\))?\s*$/.exec(part);
    if (m && Number(m[2] ?? 0) > most) {
      best = m[1]!;
      most = Number(m[2] ?? 0);
    }
  }
  return best;
}

interface IndexEntry { image: string; sh: number; sw: number; cells: (string | number)[][] }

export function openBroden(root: string, decode: DecodeOptions, limit?: number): ProbeDataset {
  const indexFile = path.join(root, 'index.csv');
  const categoryFile = path.join(root, 'category.csv');
  const labelFile = path.join(root, 'label.csv');
  const index = readCsv(indexFile);
  const categoryRows = readCsv(categoryFile);
  const labelRows = readCsv(labelFile);
  requireColumns(index, ['image', 'sh', 'sw'], indexFile);
  requireColumns(categoryRows, ['name'], categoryFile);
  requireColumns(labelRows, ['number', 'name', 'category'], labelFile);

  const columns = Object.keys(index[0]!);
  const categories = categoryRows.map((r) => r.name!).filter((c) => columns.includes(c));
  if (categories.length === 0) {
    throw new LoupeError('BAD_REQUEST', `no category of category.csv (${categoryRows.map((r) => r.name).join(', ')}) is a column of index.csv`, indexFile);
  }
  const concepts: Concept[] = [{ name: '-', category: '' }];
  for (const row of labelRows) {
    const number = Number(row.number);
    if (!Number.isInteger(number) || number < 1 || number > 65535) {
      throw new LoupeError('BAD_REQUEST', `label number '${row.number}' is not an integer from 1 to 65535`, labelFile);
    }
    while (concepts.length <= number) concepts.push({ name: `label ${concepts.length}`, category: '' });
    concepts[number] = { name: row.name!, category: primaryCategory(row.category!) };
  }

  const entries: IndexEntry[] = index.slice(0, limit ?? index.length).map((row, i) => {
    const sh = Number(row.sh);
    const sw = Number(row.sw);
    if (!(Number.isInteger(sh) && sh > 0 && Number.isInteger(sw) && sw > 0)) {
      throw new LoupeError('BAD_REQUEST', `row ${i + 2}: segmentation size sh=${row.sh}, sw=${row.sw} is not a positive size`, indexFile);
    }
    const cells = categories.map((c) => (row[c] ?? '').split(';').map((s) => s.trim()).filter(Boolean)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s)));
    return { image: row.image!, sh, sw, cells };
  });

  const stamp = [indexFile, categoryFile, labelFile].map((f) => { const s = fs.statSync(f); return `${s.size}:${s.mtimeMs}`; }).join('/');
  const imagesDir = path.join(root, 'images');
  const inside = (name: string): string => {
    const file = path.resolve(imagesDir, name);
    if (!file.startsWith(imagesDir + path.sep)) {
      throw new LoupeError('BAD_REQUEST', `'${name}' points outside the dataset's images folder`, indexFile);
    }
    return file;
  };

  const sample = async (i: number): Promise<ProbeSample> => {
    const entry = entries[i]!;
    const image = await readImageFile(inside(entry.image), decode, imagesDir);
    const n = entry.sh * entry.sw;
    const planes: Uint16Array[] = [];
    const imageLabels: number[] = [];
    const annotated: number[] = [];
    for (const [c, cell] of entry.cells.entries()) {
      if (cell.length) annotated.push(c);
      for (const item of cell) {
        if (typeof item === 'number') {
          if (item > 0 && item < concepts.length) imageLabels.push(item);
          continue;
        }
        const file = inside(item);
        const seg = await readImageFile(file, decode, imagesDir);
        if (seg.width !== entry.sw || seg.height !== entry.sh) {
          throw new LoupeError('BAD_REQUEST', `segmentation is ${seg.width}×${seg.height}, index.csv says ${entry.sw}×${entry.sh}`, file,
            'segmentations must have the size in the sw and sh columns');
        }
        const plane = new Uint16Array(n);
        for (let p = 0; p < n; p++) {
          const id = seg.data[p * 4]! + 256 * seg.data[p * 4 + 1]!;
          plane[p] = id < concepts.length ? id : 0;
        }
        planes.push(plane);
      }
    }
    return { image, segmentation: { width: entry.sw, height: entry.sh, planes, imageLabels, categories: annotated } };
  };

  return {
    kind: 'broden',
    name: `Broden ${path.basename(root)} (${entries.length} images)`,
    identity: `broden/${root}/${stamp}/${entries.length}`,
    categories,
    concepts,
    length: entries.length,
    sample,
  };
}
