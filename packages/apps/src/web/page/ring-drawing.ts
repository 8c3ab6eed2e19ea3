// The ring as an SVG drawing: each owned key range an arc of a donut, coloured by its master.
import type { RangeDigest } from '../../dashboard/cluster-digest.js';

const SVG = 'http://www.w3.org/2000/svg';
const TAU = 2 * Math.PI;

/** The path of the donut's arc from share `a` to share `b` of the key space (clockwise from the top). */
function arc(a: number, b: number, inner: number, outer: number): string {
  const at = (share: number, r: number) => {
    const t = share * TAU - Math.PI / 2;
    return `${(r * Math.cos(t)).toFixed(2)} ${(r * Math.sin(t)).toFixed(2)}`;
  };
  const large = b - a > 0.5 ? 1 : 0;
  return `M ${at(a, outer)} A ${outer} ${outer} 0 ${large} 1 ${at(b, outer)} L ${at(b, inner)} A ${inner} ${inner} 0 ${large} 0 ${at(a, inner)} Z`;
}

/**
 * Draws `ranges` into `svg` (its view box centred on 0, 0, about 240 wide): one `path.range` per
 * range, with `data-owner`, `data-begin` and `data-end`, and a title naming its chain.
 */
export function drawRing(
  svg: SVGSVGElement,
  ranges: readonly RangeDigest[],
  colorOf: (id: string) => string,
): void {
  svg.replaceChildren();
  for (const r of ranges) {
    const path = document.createElementNS(SVG, 'path');
    // A range over the whole key space (one server) is drawn as two halves of one path.
    const d =
      r.end - r.begin >= 1 ? `${arc(0, 0.5, 62, 108)} ${arc(0.5, 1, 62, 108)}` : arc(r.begin, r.end, 62, 108);
    path.setAttribute('d', d);
    path.setAttribute('class', 'range');
    path.setAttribute('fill', colorOf(r.chain[0]!));
    path.setAttribute('stroke', 'white');
    path.setAttribute('stroke-width', '0.5');
    path.dataset.owner = r.chain[0]!;
    path.dataset.begin = String(r.begin);
    path.dataset.end = String(r.end);
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `[${r.begin.toFixed(4)}, ${r.end.toFixed(4)}) of the key space: ${r.chain.join(' → ')}`;
    path.append(title);
    svg.append(path);
  }
}
