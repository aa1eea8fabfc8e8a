/**
 * tcav.png: the result as a bar chart, drawn pixel by pixel with pngjs (as the overlays) and a pixel
 * font (js-pixel-fonts). Per layer a group of bars: each concept's mean TCAV score with its spread
 * over the runs (± one standard deviation), significant ones in colour and starred, the others grey;
 * the random runs' mean and spread as the last, hatched bar of the group.
 */
import { fonts, renderPixels } from 'js-pixel-fonts';
import { PNG } from 'pngjs';
import type { TcavResult } from '../../protocol/tcav';

type Rgb = readonly [number, number, number];
const BG: Rgb = [255, 255, 255];
const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [225, 225, 225];
const SIGNIFICANT: Rgb = [31, 119, 180];
const NOT_SIGNIFICANT: Rgb = [190, 190, 190];
const RANDOM: Rgb = [150, 150, 150];
const FLAG: Rgb = [214, 39, 40];

const BAR = 40;
const GAP = 12;
const GROUP_GAP = 36;
const PLOT_H = 260;
const LEFT = 56;
const TOP = 56;
const LABEL_ROWS = 2;

class Canvas {
  readonly png: PNG;
  constructor(readonly width: number, readonly height: number) {
    this.png = new PNG({ width, height });
    this.rect(0, 0, width, height, BG);
  }

  rect(x: number, y: number, w: number, h: number, rgb: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) this.dot(xx, yy, rgb);
    }
  }

  dot(x: number, y: number, rgb: Rgb): void {
    const i = (y * this.width + x) * 4;
    this.png.data[i] = rgb[0];
    this.png.data[i + 1] = rgb[1];
    this.png.data[i + 2] = rgb[2];
    this.png.data[i + 3] = 255;
  }

  /** Text in the font's ASCII range (others become '?'); returns its width. `align` places `x` at its start, centre or end. */
  text(x: number, y: number, text: string, rgb: Rgb, scale = 1, align: 'start' | 'middle' | 'end' = 'start'): number {
    const ascii = text.replace(/[^\x20-\x7e]/g, '?');
    if (!ascii) return 0;
    const pixels = renderPixels(ascii, fonts.sevenPlus);
    const width = (pixels[0]?.length ?? 0) * scale;
    const left = align === 'start' ? x : align === 'middle' ? x - width / 2 : x - width;
    pixels.forEach((row, r) => row.forEach((on, c) => {
      if (on) this.rect(left + c * scale, y + r * scale, scale, scale, rgb);
    }));
    return width;
  }

  encode(): Buffer {
    return PNG.sync.write(this.png, { colorType: 2 });
  }
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}~`;
}

export function tcavChartPng(result: Pick<TcavResult, 'layers' | 'classLabel' | 'classIndex' | 'params'>): Buffer {
  const groups = result.layers.map((l) => l.concepts.length + 1);
  const plotW = groups.reduce((s, g) => s + g * BAR + (g - 1) * GAP, 0) + GROUP_GAP * (groups.length + 1);
  const title = `TCAV for class "${result.classLabel}" (${result.classIndex}): directional derivative of the logit`;
  const subtitle = `${result.params.runs} runs, ${result.params.cav} CAVs; * p < ${result.params.alpha}/${result.params.tests} (Bonferroni); ! CAV accuracy < ${result.params.minCavAccuracy}`;
  const width = Math.max(LEFT + plotW + 20, 7 * Math.max(title.length, subtitle.length) + 40);
  const height = TOP + PLOT_H + 16 + 12 * LABEL_ROWS + 30;
  const canvas = new Canvas(width, height);
  canvas.text(16, 10, title, INK, 2);
  canvas.text(16, 32, subtitle, INK);

  const y = (score: number) => TOP + PLOT_H * (1 - score);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    canvas.rect(LEFT, y(tick), plotW, 1, tick === 0 ? INK : GRID);
    canvas.text(LEFT - 6, y(tick) - 3, tick.toFixed(2), INK, 1, 'end');
  }
  canvas.rect(LEFT, TOP, 1, PLOT_H + 1, INK);

  let x = LEFT + GROUP_GAP;
  for (const layer of result.layers) {
    const start = x;
    const bars = [
      ...layer.concepts.map((c) => ({ label: c.concept, mean: c.mean, std: c.std, colour: c.significant ? SIGNIFICANT : NOT_SIGNIFICANT, mark: `${c.significant ? '*' : ''}${c.lowAccuracy ? '!' : ''}`, hatch: false })),
      { label: 'random', mean: layer.random.mean, std: layer.random.std, colour: RANDOM, mark: '', hatch: true },
    ];
    for (const bar of bars) {
      const top = y(Math.max(0, Math.min(1, bar.mean)));
      canvas.rect(x, top, BAR, TOP + PLOT_H - top, BG);
      if (bar.hatch) {
        for (let yy = Math.round(top); yy < TOP + PLOT_H; yy++) {
          for (let xx = 0; xx < BAR; xx++) if ((xx + yy) % 4 < 2) canvas.dot(x + xx, yy, bar.colour);
        }
      } else {
        canvas.rect(x, top, BAR, TOP + PLOT_H - top, bar.colour);
      }
      // Spread over the runs: a whisker of ± one standard deviation.
      const lo = y(Math.max(0, bar.mean - bar.std));
      const hi = y(Math.min(1, bar.mean + bar.std));
      canvas.rect(x + BAR / 2, hi, 1, lo - hi + 1, INK);
      canvas.rect(x + BAR / 2 - 4, hi, 9, 1, INK);
      canvas.rect(x + BAR / 2 - 4, lo, 9, 1, INK);
      canvas.text(x + BAR / 2, Math.min(hi, top) - 10, `${bar.mean.toFixed(2)}${bar.mark}`, bar.mark.includes('!') ? FLAG : INK, 1, 'middle');
      const words = shorten(bar.label, 2 * 8).match(/.{1,8}/g) ?? [];
      words.slice(0, LABEL_ROWS).forEach((w, r) => canvas.text(x + BAR / 2, TOP + PLOT_H + 6 + 10 * r, w, INK, 1, 'middle'));
      x += BAR + GAP;
    }
    x += GROUP_GAP - GAP;
    canvas.text((start + x - GROUP_GAP) / 2, TOP + PLOT_H + 10 + 10 * LABEL_ROWS, shorten(layer.layer, 24), INK, 1, 'middle');
  }
  return canvas.encode();
}
