/**
 * Writes the sample images of demo/images/: 3 held-out MNIST digits (PNG) and 4 shapes scenes
 * (seed 4, rendered at 256x256; PNG, one of them also as JPEG).
 * Run: npx tsx demo/make-images.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { loadDigits, TRAIN_COUNT } from './digits/data';
import { generateShapes } from './shapes/dataset';

const OUT_DIR = path.join(__dirname, 'images');

function writePng(file: string, rgba: Uint8Array, width: number, height: number): void {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  fs.writeFileSync(path.join(OUT_DIR, file), PNG.sync.write(png));
}

function main(): void {
  fs.mkdirSync(OUT_DIR, { recursive: true });

  // Digits from the validation part (never seen in training), upscaled 4x with nearest neighbour.
  const digits = loadDigits();
  const scale = 4;
  for (const index of [TRAIN_COUNT + 7, TRAIN_COUNT + 12, TRAIN_COUNT + 25]) {
    const img = digits.images[index]!;
    const side = 28 * scale;
    const rgba = new Uint8Array(side * side * 4);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = Math.round(img[Math.floor(y / scale) * 28 + Math.floor(x / scale)]! * 255);
        rgba.set([v, v, v, 255], (y * side + x) * 4);
      }
    }
    writePng(`digit-${digits.labels[index]}.png`, rgba, side, side);
  }

  const size = 256;
  const shapes = generateShapes({ count: 4, seed: 4, size });
  shapes.images.forEach((rgba, i) => {
    const name = `shape-${i + 1}-${shapes.classes[shapes.labels[i]!]}`;
    writePng(`${name}.png`, rgba, size, size);
    if (i === 0) {
      const encoded = jpeg.encode({ data: Buffer.from(rgba), width: size, height: size }, 90);
      fs.writeFileSync(path.join(OUT_DIR, `${name}.jpg`), encoded.data);
    }
  });
  console.log(`wrote ${fs.readdirSync(OUT_DIR).join(', ')} to ${OUT_DIR}`);
}

main();
