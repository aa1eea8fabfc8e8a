/** Which engine errors the host can help with by writing loupe.json. Pure. */

/**
 * True for the engine's error about a model whose input size is symbolic (dynamic axes in an ONNX
 * export): it names the `"size": [H, W]` key that loupe.json lacks.
 */
export function needsSidecarSize(message: string): boolean {
  return /"size"/.test(message) && /loupe\.json/i.test(message);
}
