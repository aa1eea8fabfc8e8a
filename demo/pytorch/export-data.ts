/**
 * Writes the demo "shapes" images (demo/shapes/dataset.ts) as NumPy files for demo/pytorch/train.py:
 *   train_images.npy  uint8 [N, 64, 64, 3] (HWC, RGB)   train_labels.npy  int64 [N]   (seed 1, as shapes/train.ts)
 *   val_images.npy    uint8 [M, 64, 64, 3]              val_labels.npy    int64 [M]   (seed 2, as shapes/train.ts)
 * Run: npx tsx demo/pytorch/export-data.ts OUT_DIR [N=6000] [M=600]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateShapes } from '../shapes/dataset';

const SIZE = 64;

/** A version-1.0 .npy file: `descr` is NumPy's dtype string, data already little-endian. */
function npy(descr: string, shape: number[], data: Buffer): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const prefix = 10; // magic (6) + version (2) + header length (2)
  const total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(header, 0);
  header.writeUInt16LE(total - prefix, 8);
  header.write(dict, prefix, 'latin1');
  header[total - 1] = 0x0a;
  return Buffer.concat([header, data]);
}

function write(outDir: string, split: string, count: number, seed: number): void {
  const data = generateShapes({ count, seed, size: SIZE });
  const rgb = Buffer.alloc(count * SIZE * SIZE * 3);
  data.images.forEach((rgba, n) => {
    for (let i = 0; i < SIZE * SIZE; i++) rgb.set(rgba.subarray(i * 4, i * 4 + 3), (n * SIZE * SIZE + i) * 3);
  });
  const labels = Buffer.alloc(count * 8);
  data.labels.forEach((label, n) => labels.writeBigInt64LE(BigInt(label), n * 8));
  fs.writeFileSync(path.join(outDir, `${split}_images.npy`), npy('|u1', [count, SIZE, SIZE, 3], rgb));
  fs.writeFileSync(path.join(outDir, `${split}_labels.npy`), npy('<i8', [count], labels));
  console.log(`${split}: ${count} images (seed ${seed}) -> ${outDir}`);
}

function main(): void {
  const [outDir, n = '6000', m = '600'] = process.argv.slice(2);
  if (!outDir) {
    console.error('usage: npx tsx demo/pytorch/export-data.ts OUT_DIR [N=6000] [M=600]');
    process.exit(2);
  }
  fs.mkdirSync(outDir, { recursive: true });
  write(outDir, 'train', Number(n), 1);
  write(outDir, 'val', Number(m), 2);
}

main();
