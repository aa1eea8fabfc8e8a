/** A small line chart (SVG) of a series, e.g. the objective over optimisation steps. */

const SVG = 'http://www.w3.org/2000/svg';

export function lineChart(values: readonly number[], label: string, width = 320, height = 90): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.classList.add('line-chart');
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length < 2) return svg;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const span = hi - lo || 1;
  const points = values.map((v, i) => `${((i / (values.length - 1)) * (width - 4) + 2).toFixed(1)},${(height - 2 - ((v - lo) / span) * (height - 4)).toFixed(1)}`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('class', 'series');
  svg.append(line);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = `${label}: from ${values[0]!.toPrecision(3)} to ${values.at(-1)!.toPrecision(3)} (range ${lo.toPrecision(3)} … ${hi.toPrecision(3)})`;
  svg.append(title);
  return svg;
}
