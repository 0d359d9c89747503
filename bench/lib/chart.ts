/**
 * The scaling chart of bench/README.md: µs per stage against size (log scale), one line per
 * curve, as a self-contained SVG drawn from the runner's own results.
 */

/** One line of the chart. */
export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly { readonly size: number; readonly usPerStage: number }[];
}

const WIDTH = 720;
const HEIGHT = 400;
const MARGIN = { left: 64, right: 200, top: 40, bottom: 56 } as const;

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" upper bound for the y axis and its tick step. */
function niceScale(max: number): { top: number; step: number } {
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rough) ?? rough;
  return { top: Math.ceil(max / step) * step, step };
}

/** Renders the series as an SVG document. */
export function scalingChart(title: string, series: readonly ChartSeries[]): string {
  const sizes = series.flatMap((line) => line.points.map((point) => point.size));
  const costs = series.flatMap((line) => line.points.map((point) => point.usPerStage));
  const minExp = Math.floor(Math.log10(Math.min(...sizes)));
  const maxExp = Math.ceil(Math.log10(Math.max(...sizes)));
  const { top, step } = niceScale(Math.max(...costs) * 1.05);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (size: number): number => MARGIN.left + ((Math.log10(size) - minExp) / Math.max(1, maxExp - minExp)) * plotWidth;
  const y = (cost: number): number => MARGIN.top + plotHeight - (cost / top) * plotHeight;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  for (let tick = 0; tick <= top + step / 2; tick += step) {
    const ty = y(tick).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${ty}" y2="${ty}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${ty}" text-anchor="end" dominant-baseline="middle">${Number(tick.toFixed(2))}</text>`);
  }
  for (let exp = minExp; exp <= maxExp; exp++) {
    const tx = x(10 ** exp).toFixed(1);
    out.push(`<line x1="${tx}" x2="${tx}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${tx}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${(10 ** exp).toLocaleString('en-US')}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">stages per saga, or concurrent runs (log scale)</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">µs per stage</text>`);
  for (const [index, line] of series.entries()) {
    const path = line.points.map((point) => `${x(point.size).toFixed(1)},${y(point.usPerStage).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${path}" fill="none" stroke="${line.color}" stroke-width="2"/>`);
    for (const point of line.points) {
      out.push(`<circle cx="${x(point.size).toFixed(1)}" cy="${y(point.usPerStage).toFixed(1)}" r="3.5" fill="${line.color}"><title>${escape(line.label)}: ${point.size} → ${point.usPerStage.toFixed(2)} µs/stage</title></circle>`);
    }
    const ly = MARGIN.top + 12 + index * 22;
    const lx = MARGIN.left + plotWidth + 16;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${line.color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escape(line.label)}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
