/**
 * What the user should know about the image before reading its maps. An image much smaller than the
 * model's input is upscaled (bilinear) and explained all the same; past 2× per side, each model pixel is
 * mostly interpolation (a 3×3 first-layer kernel spans under two of the image's pixels), so the
 * predictions and every map's detail describe the resampling more than the picture.
 */

/** Upscaling per side beyond which an image counts as much smaller than the model's input. */
export const SMALL_IMAGE_FACTOR = 2;

export function smallImageNote(image: { width: number; height: number }, input: { width: number; height: number }): string | undefined {
  const factor = Math.max(input.width / image.width, input.height / image.height);
  if (!(factor > SMALL_IMAGE_FACTOR)) return undefined;
  const times = factor >= 10 ? Math.round(factor).toString() : factor.toFixed(1);
  return `The image is ${image.width}×${image.height} px, much smaller than the model's ${input.width}×${input.height} input: `
    + `Loupe upscaled it ${times}×, so the model sees mostly interpolated pixels and the maps' fine detail is interpolation, not image content.`;
}
