import type { ExplainResult } from '../types';
import { encodeNpy } from './npy';
import { imagePng, overlayPng } from './overlay';
import { writeRunFiles, type RunFile } from './runFiles';

/**
 * Writes an explain run into `outDir` (created if needed):
 *   <method>.npy          raw map, shape = summary.shape (float32, C order)
 *   <method>_lowres.npy   CAM-style maps at the layer's resolution, shape = summary.lowresShape
 *   <method>.png          the display map over the grayscale input
 *   input.png             the image as the model sees it (resized, before normalisation)
 *   summary.json          result.summary, written last so its presence means the run is complete
 * The files are staged then renamed into place (writeRunFiles): a crash never leaves a half-written run,
 * and nothing is written through a symlink or outside `outDir`.
 * A method appearing twice gets a "_2", "_3", … suffix. Returns the paths written, in order.
 */
export async function writeExplainOutputs(result: ExplainResult, outDir: string): Promise<string[]> {
  const files: RunFile[] = [];
  const put = (name: string, bytes: Buffer | string): void => { files.push({ name, bytes }); };
  const seen = new Map<string, number>();
  for (const map of result.maps) {
    const s = map.summary;
    const k = (seen.get(s.method) ?? 0) + 1;
    seen.set(s.method, k);
    const stem = k === 1 ? s.method : `${s.method}_${k}`;
    put(`${stem}.npy`, encodeNpy(map.data, s.shape));
    if (map.lowres) {
      if (!s.lowresShape) throw new Error(`writeExplainOutputs: ${s.method} has lowres data but no lowresShape`);
      put(`${stem}_lowres.npy`, encodeNpy(map.lowres, s.lowresShape));
    }
    put(`${stem}.png`, overlayPng(result.image, map.display, s.signed));
  }
  put('input.png', imagePng(result.image));
  put('summary.json', JSON.stringify(result.summary, null, 2) + '\n');
  return writeRunFiles(outDir, files);
}
