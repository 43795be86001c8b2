/**
 * The head view as an image: an SVG string built from the same layout and line groups the
 * canvas draws, and a PNG rasterised from it. Used by the widget's save buttons and by
 * `AttentionWidget.save("….svg" | "….png")` in Python.
 */
import { ROW_HEIGHT, displayToken, headColour, rowCentre, type LineGroup } from "./layout";

export interface HeadViewImage {
  title: string;
  tokens: string[];
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
    const d = group.pairs
      .map(([i, j]) => `M0 ${rowCentre(i)}L${image.lineAreaWidth} ${rowCentre(j)}`)
      .join("");
    parts.push(
      `<path class="gw-line" stroke="${headColour(group.head)}" ` +
        `stroke-opacity="${group.opacity.toFixed(2)}" d="${d}"/>`,
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
