/**
 * The views as images: SVG strings built from what the views draw (the head view's line groups;
 * the matrix and model views' heatmap canvases, embedded as pixel-exact images under vector
 * labels), and PNGs rasterised from them. Used by the widget's save buttons, by
 * `await w.save_image(...)`, and by `w.save("….png" | "….svg")` through a headless browser.
 */
import { ROW_HEIGHT, displayToken, headColour, rowCentre, type LineGroup } from "./layout";

export interface HeadViewImage {
  title: string;
  /** The tokens shown (a window of a long text), the first being token `offset`. */
  tokens: string[];
  offset: number;
  special: boolean[];
  inPrompt: boolean[];
  groups: LineGroup[];
  lineAreaWidth: number;
  colours: { foreground: string; muted: string; background: string };
}

const CHAR_WIDTH = 7.3; // 12px monospace
const HEADER = 28;
const PAD = 8;

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Width and height of the image in CSS pixels. */
export function imageSize(image: HeadViewImage): { width: number; height: number; column: number } {
  const longest = Math.max(4, ...image.tokens.map((t) => displayToken(t).length));
  const column = Math.ceil(longest * CHAR_WIDTH) + 2 * PAD;
  return {
    width: 2 * column + image.lineAreaWidth,
    height: HEADER + image.tokens.length * ROW_HEIGHT + PAD,
    column,
  };
}

export function headViewSvg(image: HeadViewImage): string {
  const { width, height, column } = imageSize(image);
  const { foreground, muted, background } = image.colours;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="ui-monospace, DejaVu Sans Mono, monospace" ` +
      `font-size="12">`,
    `<rect width="100%" height="100%" fill="${escapeXml(background)}"/>`,
    `<text x="${PAD}" y="18" fill="${escapeXml(muted)}">${escapeXml(image.title)}</text>`,
    `<g transform="translate(${column} ${HEADER})" stroke-width="2" fill="none">`,
  ];
  for (const group of image.groups) {
    // One path a line, as on screen: where lines cross or meet, their ink adds up.
    const lines = group.pairs.map(
      ([i, j]) =>
        `<path class="gw-line" d="M0 ${rowCentre(i - image.offset)}L${image.lineAreaWidth} ${rowCentre(j - image.offset)}"/>`,
    );
    parts.push(
      `<g stroke="${headColour(group.head)}" stroke-opacity="${group.opacity.toFixed(2)}">`,
      ...lines,
      "</g>",
    );
  }
  parts.push("</g>");
  image.tokens.forEach((token, index) => {
    const y = HEADER + rowCentre(index) + 4;
    const colour = image.special[index] || image.inPrompt[index] ? muted : foreground;
    const label = escapeXml(displayToken(token));
    const style = image.special[index] ? ' font-style="italic"' : "";
    parts.push(
      `<text class="gw-image-token" x="${column - PAD}" y="${y}" text-anchor="end" ` +
        `fill="${escapeXml(colour)}"${style} xml:space="preserve">${label}</text>`,
      `<text class="gw-image-token" x="${column + image.lineAreaWidth + PAD}" y="${y}" ` +
        `fill="${escapeXml(colour)}"${style} xml:space="preserve">${label}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

/** Rasterise an SVG string at `scale` (2 = twice the on-screen pixels). */
export async function svgToPng(svg: string, width: number, height: number, scale: number): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  try {
    const picture = new Image();
    await new Promise((resolve, reject) => {
      picture.onload = resolve;
      picture.onerror = () => reject(new Error("the SVG could not be rasterised"));
      picture.src = url;
    });
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const context = canvas.getContext("2d");
    if (!context) throw new Error("no 2D canvas to rasterise on");
    context.scale(scale, scale);
    context.drawImage(picture, 0, 0);
    return await new Promise((resolve, reject) =>
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("PNG encoding failed"))), "image/png"),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}

export interface Colours {
  foreground: string;
  muted: string;
  background: string;
}

/** An SVG document and its size in CSS pixels. */
export interface SvgImage {
  svg: string;
  width: number;
  height: number;
}

/** Room for a title line (12px monospace), so long model names are not cut off. */
function titleWidth(title: string): number {
  return PAD + Math.ceil(title.length * CHAR_WIDTH);
}

function svgDocument(width: number, height: number, background: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="ui-monospace, DejaVu Sans Mono, monospace" ` +
      `font-size="11">`,
    `<rect width="100%" height="100%" fill="${escapeXml(background)}"/>`,
    ...body,
    "</svg>",
  ].join("");
}

function pixelImage(x: number, y: number, width: number, height: number, url: string): string {
  return `<image x="${x}" y="${y}" width="${width}" height="${height}" href="${escapeXml(url)}" ` +
    `preserveAspectRatio="none" style="image-rendering:pixelated"/>`;
}

export interface MatrixImage {
  title: string;
  tokens: string[];
  /** Cell side in CSS pixels; labels are written when the view writes them. */
  cell: number;
  labelled: boolean;
  /** The heatmap, one pixel a cell, as a data URL (canvas.toDataURL). */
  heatmap: string;
  colours: Colours;
}

export function matrixSvg(image: MatrixImage): SvgImage {
  const n = image.tokens.length;
  const labels = image.tokens.map(displayToken);
  const labelSize = image.labelled
    ? Math.min(140, Math.ceil(Math.max(4, ...labels.map((l) => l.length)) * 6.7) + PAD)
    : 0;
  const side = n * image.cell;
  const [left, top] = [PAD + labelSize, HEADER + labelSize];
  const { foreground, muted, background } = image.colours;
  const body = [
    `<text x="${PAD}" y="18" fill="${escapeXml(muted)}" font-size="12">${escapeXml(image.title)}</text>`,
    pixelImage(left, top, side, side, image.heatmap),
  ];
  if (image.labelled) {
    labels.forEach((label, index) => {
      const centre = (index + 0.5) * image.cell + 4;
      const text = escapeXml(label);
      body.push(
        `<text class="gw-image-token" x="${left - 4}" y="${top + centre}" text-anchor="end" ` +
          `fill="${escapeXml(foreground)}" xml:space="preserve">${text}</text>`,
        `<text class="gw-image-token" transform="translate(${left + centre - 8} ${top - 4}) rotate(-90)" ` +
          `fill="${escapeXml(foreground)}" xml:space="preserve">${text}</text>`,
      );
    });
  }
  const [width, height] = [Math.max(left + side, titleWidth(image.title)) + PAD, top + side + PAD];
  return { svg: svgDocument(width, height, background, body), width, height };
}

export interface ModelImage {
  title: string;
  note: string;
  /** One label per layer, e.g. "layer 5 · full". */
  layers: string[];
  /** Data URL of each head's map, [layer][head], and the caption under it. */
  maps: string[][];
  captions: string[][];
  thumbnail: number;
  colours: Colours;
}

export function modelSvg(image: ModelImage): SvgImage {
  const LABEL = PAD + Math.ceil(Math.max(0, ...image.layers.map((l) => l.length)) * 6.7) + 6;
  const rowHeight = image.thumbnail + 16;
  const top = HEADER + (image.note ? 18 : 0);
  const heads = image.maps[0]?.length ?? 0;
  const { foreground, muted, background } = image.colours;
  const body = [
    `<text x="${PAD}" y="18" fill="${escapeXml(muted)}" font-size="12">${escapeXml(image.title)}</text>`,
  ];
  if (image.note) {
    body.push(`<text x="${PAD}" y="${HEADER + 8}" fill="${escapeXml(muted)}">${escapeXml(image.note)}</text>`);
  }
  image.layers.forEach((label, layer) => {
    const y = top + layer * rowHeight;
    body.push(
      `<text class="gw-image-layer" x="${LABEL - 6}" y="${y + image.thumbnail / 2 + 4}" ` +
        `text-anchor="end" fill="${escapeXml(foreground)}">${escapeXml(label)}</text>`,
    );
    image.maps[layer].forEach((url, head) => {
      const x = LABEL + head * (image.thumbnail + 6);
      body.push(
        pixelImage(x, y, image.thumbnail, image.thumbnail, url),
        `<text x="${x + image.thumbnail / 2}" y="${y + image.thumbnail + 12}" text-anchor="middle" ` +
          `fill="${escapeXml(muted)}" font-size="10">${escapeXml(image.captions[layer][head])}</text>`,
      );
    });
  });
  const width = Math.max(LABEL + heads * (image.thumbnail + 6), titleWidth(image.title), titleWidth(image.note)) + PAD;
  const height = top + image.layers.length * rowHeight + PAD;
  return { svg: svgDocument(width, height, background, body), width, height };
}
