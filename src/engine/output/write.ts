import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ExplainResult } from '../types';
import { encodeNpy } from './npy';
import { imagePng, overlayPng } from './overlay';

/**
 * Writes an explain run into `outDir` (created if needed):
 *   <method>.npy          raw map, shape = summary.shape (float32, C order)
 *   <method>_lowres.npy   CAM-style maps at the layer's resolution, shape = summary.lowresShape
 *   <method>.png          the display map over the grayscale input
 *   input.png             the image as the model sees it (resized, before normalisation)
 *   summary.json          result.summary, written last so its presence means the run is complete
 * Each file goes to a temporary name then is renamed, so a crash never leaves a half-written file.
 * A method appearing twice gets a "_2", "_3", … suffix. Returns the paths written, in order.
 */
export async function writeExplainOutputs(result: ExplainResult, outDir: string): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  const put = async (name: string, bytes: Buffer | string): Promise<void> => {
    const file = path.join(outDir, name);
    await writeAtomic(file, bytes);
    written.push(file);
  };

  const seen = new Map<string, number>();
  for (const map of result.maps) {
    const s = map.summary;
    const k = (seen.get(s.method) ?? 0) + 1;
    seen.set(s.method, k);
    const stem = k === 1 ? s.method : `${s.method}_${k}`;
    await put(`${stem}.npy`, encodeNpy(map.data, s.shape));
    if (map.lowres) {
      if (!s.lowresShape) throw new Error(`writeExplainOutputs: ${s.method} has lowres data but no lowresShape`);
      await put(`${stem}_lowres.npy`, encodeNpy(map.lowres, s.lowresShape));
    }
    await put(`${stem}.png`, overlayPng(result.image, map.display, s.signed));
  }
  await put('input.png', imagePng(result.image));
  await put('summary.json', JSON.stringify(result.summary, null, 2) + '\n');
  return written;
}

async function writeAtomic(file: string, bytes: Buffer | string): Promise<void> {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync(); // the rename must not reach the disk before the data
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
