/**
 * Writes demo/tcav/circle/: 12 held-out scenes of the shapes dataset whose object is a circle (seed 2026,
 * 64×64 like the model's input), the class images for "Loupe: Test Concepts (TCAV)…" in the demo.
 * Run: npx tsx demo/tcav/make-images.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { generateShapes } from '../shapes/dataset';

const CLASS = 'circle';
const COUNT = 12;
const OUT_DIR = path.join(__dirname, CLASS);

function main(): void {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const data = generateShapes({ count: 200, seed: 2026, size: 64 });
  const wanted = data.classes.indexOf(CLASS);
  const picked = data.labels.map((label, i) => (label === wanted ? i : -1)).filter((i) => i >= 0).slice(0, COUNT);
  for (const [k, i] of picked.entries()) {
    const png = new PNG({ width: 64, height: 64 });
    png.data = Buffer.from(data.images[i]!);
    fs.writeFileSync(path.join(OUT_DIR, `${CLASS}-${String(k + 1).padStart(2, '0')}.png`), PNG.sync.write(png));
  }
  console.log(`wrote ${picked.length} ${CLASS} images to ${OUT_DIR}`);
}

main();
