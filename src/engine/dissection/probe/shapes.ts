/**
 * Outlines of the procedural shapes, shared by the probe generator and the demo's shapes dataset.
 * A shape is a predicate on (u, v): the shape's own frame, where it fits the unit disc.
 */

export type ShapeName = 'circle' | 'square' | 'triangle' | 'star' | 'heart' | 'cross' | 'hexagon' | 'diamond';

/** Point-in-polygon by ray casting. */
export function inPolygon(x: number, y: number, pts: readonly (readonly number[])[]): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i]!;
    const [xj, yj] = pts[j]!;
    if (yi! > y !== yj! > y && x < ((xj! - xi!) * (y - yi!)) / (yj! - yi!) + xi!) inside = !inside;
  }
  return inside;
}

function regular(n: number, radius = 1, start = -Math.PI / 2): number[][] {
  return Array.from({ length: n }, (_, k) => {
    const a = start + (k * 2 * Math.PI) / n;
    return [radius * Math.cos(a), radius * Math.sin(a)];
  });
}

const STAR = Array.from({ length: 10 }, (_, k) => {
  const r = k % 2 === 0 ? 1 : 0.5;
  const a = -Math.PI / 2 + (k * Math.PI) / 5;
  return [r * Math.cos(a), r * Math.sin(a)];
});
const TRIANGLE = regular(3);
const HEXAGON = regular(6, 0.9, 0);

export function insideShape(shape: ShapeName, u: number, v: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 0.85 * 0.85;
    case 'square':
      return Math.abs(u) <= 0.68 && Math.abs(v) <= 0.68;
    case 'diamond':
      return Math.abs(u) / 0.7 + Math.abs(v) <= 0.95;
    case 'triangle':
      return inPolygon(u, v, TRIANGLE);
    case 'star':
      return inPolygon(u, v, STAR);
    case 'hexagon':
      return inPolygon(u, v, HEXAGON);
    case 'cross':
      return (Math.abs(u) <= 0.3 && Math.abs(v) <= 0.9) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 0.9);
    case 'heart': {
      // Classic implicit heart curve, flipped so the tip points down, scaled into the unit disc.
      const x = u * 1.25;
      const y = -v * 1.25 + 0.15;
      const a = x * x + y * y - 1;
      return a * a * a - x * x * y * y * y <= 0;
    }
  }
}
