/**
 * Data work behind the Explain panel, pure (no `vscode` import) so it is tested in Node:
 * the result as the webview receives it, merging an on-demand run into what is shown, and the
 * two exports (PNG from the webview's canvas, JSON from the raw numbers the host keeps).
 */
import type { LayerInfo, MethodId } from '../../protocol/types';
import { isPngDataUrl, type WebviewMap, type WebviewResult } from '../../protocol/webview';
import type { ClientExplainResult } from '../workerClient';

/** Width and height of a map's display values: the model input (all methods upsample to it). */
export function displaySize(result: ClientExplainResult, index: number): { width: number; height: number } {
  const map = result.maps[index]!;
  const { width, height } = result.image;
  if (map.display.length === width * height) return { width, height };
  const [h, w] = map.summary.shape;
  if (h !== undefined && w !== undefined && h * w === map.display.length) return { width: w, height: h };
  throw new RangeError(`${map.summary.method}: ${map.display.length} display values fit neither the ${width}×${height} image nor shape [${map.summary.shape.join(', ')}]`);
}

/** The result as postMessage carries it: display maps and the image as typed arrays, the raw maps left out. */
export function toWebviewResult(result: ClientExplainResult): WebviewResult {
  return {
    summary: result.summary,
    image: webviewImage(result.image, 'image'),
    maps: result.maps.map((_, i) => webviewMap(result, i, `map-${i}`)),
  };
}

/** Map `index` of `result` as the webview draws it (a copy of its display values). */
export function webviewMap(result: ClientExplainResult, index: number, id: string): WebviewMap {
  const map = result.maps[index]!;
  return { id, summary: map.summary, ...displaySize(result, index), display: Float32Array.from(map.display) };
}

/** The image as the webview draws it: RGBA bytes, rounded and clamped to 0..255. */
export function webviewImage(image: ClientExplainResult['image'], id: string): WebviewResult['image'] {
  const { width, height, data } = image;
  return { id, width, height, rgba: Uint8Array.from(data, (v) => Math.max(0, Math.min(255, Math.round(v)))) };
}

/**
 * `base` with the maps of `extra` added: a method present in both takes `extra`'s map, in place;
 * new methods go to the end. Predictions stay `base`'s (same image, same model).
 */
export function mergeResults(base: ClientExplainResult, extra: ClientExplainResult): ClientExplainResult {
  const maps = [...base.maps];
  for (const m of extra.maps) {
    const at = maps.findIndex((b) => b.summary.method === m.summary.method);
    if (at >= 0) maps[at] = m;
    else maps.push(m);
  }
  const requested = new Set<MethodId>([...extra.maps.map((m) => m.summary.method), ...extra.summary.skipped.map((s) => s.method)]);
  const skipped = [...base.summary.skipped.filter((s) => !requested.has(s.method)), ...extra.summary.skipped];
  return {
    ...base,
    summary: { ...base.summary, maps: maps.map((m) => m.summary), skipped },
    maps,
  };
}

/** Layers Grad-CAM can use: outputs with a spatial H×W×C shape, the input itself excepted. */
export function spatialLayers(layers: readonly LayerInfo[]): string[] {
  return layers.filter((l) => l.outputShape.length === 3 && l.className !== 'InputLayer').map((l) => l.name);
}

/** Classes whose output is a feature map worth a Grad-CAM (padding, batch norm, adds and reshapes are not offered first). */
const FEATURE_CLASSES = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'PReLU', 'MaxPooling2D', 'AveragePooling2D', 'Concatenate']);

/**
 * The spatial layers the Grad-CAM picker offers by default: convolutions (with what is fused into them),
 * activation and pooling layers, concatenations, and the default Grad-CAM layer. The others stay a click away.
 */
export function featureLayers(layers: readonly LayerInfo[], defaultLayer: string | undefined): string[] {
  const spatial = new Set(spatialLayers(layers));
  return layers.filter((l) => spatial.has(l.name) && (l.isConv || FEATURE_CLASSES.has(l.className) || l.name === defaultLayer)).map((l) => l.name);
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The PNG bytes of a data URL from the webview, or undefined when it is not a well-formed PNG. */
export function pngFromDataUrl(dataUrl: unknown): Buffer | undefined {
  if (!isPngDataUrl(dataUrl)) return undefined;
  const bytes = Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
  // Signature, then the IHDR chunk first (length 13): enough to refuse anything that is not a PNG.
  if (bytes.length < 33 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) return undefined;
  if (bytes.readUInt32BE(8) !== 13 || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return bytes;
}

/** `data` (row-major in `shape`) as nested arrays; non-finite values become null (JSON has no NaN). */
export function nest(data: ArrayLike<number>, shape: readonly number[]): unknown {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${count} values, the map has ${data.length}`);
  const build = (dim: number, offset: number): unknown => {
    const n = shape[dim]!;
    if (dim === shape.length - 1) {
      const row: Array<number | null> = new Array(n);
      for (let i = 0; i < n; i++) {
        const v = data[offset + i]!;
        row[i] = Number.isFinite(v) ? v : null;
      }
      return row;
    }
    const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) => build(dim + 1, offset + i * stride));
  };
  return shape.length === 0 ? (Number.isFinite(data[0]!) ? data[0] : null) : build(0, 0);
}

/**
 * The JSON export of one map: what was explained, the map's summary (parameters, time, figures,
 * notes), and its raw numbers as nested arrays in `shape` (plus the layer-resolution map for
 * CAM-style methods).
 */
export function mapJson(result: ClientExplainResult, method: MethodId): object | undefined {
  const map = result.maps.find((m) => m.summary.method === method);
  if (!map) return undefined;
  const s = result.summary;
  return {
    model: s.model,
    image: s.image,
    backend: s.backend,
    inputShape: s.inputShape,
    predictions: s.predictions,
    map: map.summary,
    shape: map.summary.shape,
    data: nest(map.data, map.summary.shape),
    ...(map.lowres && map.summary.lowresShape ? { lowresShape: map.summary.lowresShape, lowres: nest(map.lowres, map.summary.lowresShape) } : {}),
  };
}
