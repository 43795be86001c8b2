/**
 * The model view: every layer x head as a small map, each layer labelled with its attention
 * type (sliding window or full, from the model config), each head with the chosen statistic.
 * Clicking a map opens it in the head view.
 */
import { paintGrid, type Scale } from "./colour";
import { element } from "./dom";
import type { Colours, ModelImage } from "./image";
import { strongestPerPixel } from "./matrix-view";
import type { Statistic } from "./model";
import type { AttentionBlock } from "./wire";

/** Side of one map on screen, in CSS pixels. */
export const THUMBNAIL_PIXELS = 64;

export const STATISTIC_LABELS: Record<Statistic, string> = {
  entropy: "entropy (nats)",
  distance: "mean distance (tokens)",
  sink: "share on special tokens",
  right_to_left: "share right-to-left (to later tokens)",
  left_to_right: "share left-to-right (to earlier tokens)",
};

export interface ModelInput {
  /** Attention of every layer: the full maps, or the kernel's thumbnails for long texts. */
  maps: AttentionBlock;
  layers: number;
  heads: number;
  kvHeads: number;
  layerTypes: string[];
  stats: Partial<Record<Statistic, number[][]>>;
  statistic: Statistic;
  scale: Scale;
  selected: { layer: number; head: number; allHeads: boolean };
}

/** "sliding_attention" -> "sliding window", "full_attention" -> "full". */
export function layerTypeLabel(type: string | undefined): string {
  if (!type) return "";
  if (type.startsWith("sliding")) return "sliding window";
  if (type.startsWith("full")) return "full";
  return type.replace(/_/g, " ");
}

/** What the grid says about grouped-query attention, or "" when every head has its own. */
export function sharingNote(heads: number, kvHeads: number): string {
  if (!kvHeads || kvHeads >= heads) return "";
  const perGroup = heads / kvHeads;
  const shared = kvHeads === 1 ? "1 key/value head" : `${kvHeads} key/value heads`;
  return `The ${heads} query heads of each layer share ${shared} (grouped-query attention` +
    `${kvHeads > 1 ? `, ${perGroup} query heads per key/value head` : ""}): heads differ only in their queries.`;
}

export class ModelView {
  readonly root: HTMLDivElement;
  private readonly note: HTMLDivElement;
  private readonly grid: HTMLDivElement;
  private drawnKey = "";
  private drawnMaps: AttentionBlock | null = null;
  private drawnStats: ModelInput["stats"] | null = null;

  constructor(private readonly onOpen: (layer: number, head: number) => void) {
    this.root = element("div", "gw-model");
    this.note = element("div", "gw-model-note", this.root);
    this.grid = element("div", "gw-model-grid", this.root);
    this.grid.addEventListener("click", (event) => {
      const cell = (event.target as HTMLElement).closest<HTMLElement>(".gw-thumb");
      if (cell) this.onOpen(Number(cell.dataset.layer), Number(cell.dataset.head));
    });
  }

  /** What the grid shows, for the image export; null before the first draw. */
  image(title: string, colours: Colours): ModelImage | null {
    const layers = [...this.grid.querySelectorAll<HTMLElement>(".gw-model-layer")];
    if (!layers.length) return null;
    const maps: string[][] = layers.map(() => []);
    const captions: string[][] = layers.map(() => []);
    this.grid.querySelectorAll<HTMLElement>(".gw-thumb").forEach((cell) => {
      const layer = Number(cell.dataset.layer);
      maps[layer].push(cell.querySelector("canvas")?.toDataURL("image/png") ?? "");
      captions[layer].push(cell.querySelector(".gw-thumb-stat")?.textContent ?? "");
    });
    return {
      title,
      note: this.note.textContent ?? "",
      layers: layers.map((label) => label.textContent ?? ""),
      maps,
      captions,
      thumbnail: THUMBNAIL_PIXELS,
      colours,
    };
  }

  draw(input: ModelInput): void {
    const { maps, layers, heads, stats, statistic, scale } = input;
    this.note.textContent = sharingNote(heads, input.kvHeads);
    this.note.hidden = !this.note.textContent;
    // Redraw for new maps, for statistics that arrive after them, or for other options.
    const key = [layers, heads, scale, statistic, input.layerTypes.join(",")].join("|");
    if (key !== this.drawnKey || maps !== this.drawnMaps || stats !== this.drawnStats) {
      this.drawnKey = key;
      this.drawnMaps = maps;
      this.drawnStats = stats;
      this.grid.style.gridTemplateColumns = `auto repeat(${heads}, ${THUMBNAIL_PIXELS}px)`;
      const cells: HTMLElement[] = [];
      const size = maps.meta.n;
      // A map never has more pixels than it shows: 72 maps of 256 x 256 took 160 ms to paint.
      const side = Math.round(THUMBNAIL_PIXELS * (window.devicePixelRatio || 1));
      for (let layer = 0; layer < layers; layer++) {
        const label = element("div", "gw-model-layer");
        const type = layerTypeLabel(input.layerTypes[layer]);
        label.textContent = `layer ${layer}`;
        if (type) {
          const kind = element("span", `gw-layer-type gw-layer-${type.startsWith("sliding") ? "sliding" : "full"}`);
          kind.textContent = type;
          label.append(" ", kind);
        }
        cells.push(label);
        for (let head = 0; head < heads; head++) {
          const cell = element("button", "gw-thumb");
          cell.type = "button";
          cell.dataset.layer = String(layer);
          cell.dataset.head = String(head);
          const canvas = document.createElement("canvas");
          if (size > side) {
            const pooled = strongestPerPixel(maps, layer, [head], size, side);
            paintGrid(canvas, side, side, (r, c) => pooled[r * side + c], scale);
          } else {
            paintGrid(canvas, size, size, (i, j) => maps.weight(layer, head, i, j), scale);
          }
          canvas.style.width = canvas.style.height = `${THUMBNAIL_PIXELS}px`;
          const value = stats[statistic]?.[layer]?.[head];
          const caption = element("span", "gw-thumb-stat");
          caption.textContent = value === undefined ? "" : value.toFixed(2);
          cell.title = `layer ${layer}, head ${head}` + statTitle(stats, layer, head);
          cell.append(canvas, caption);
          cells.push(cell);
        }
      }
      this.grid.replaceChildren(...cells);
    }
    const { layer, head, allHeads } = input.selected;
    this.grid.querySelectorAll<HTMLElement>(".gw-thumb").forEach((cell) => {
      const sameLayer = Number(cell.dataset.layer) === layer;
      cell.classList.toggle("gw-thumb-selected", sameLayer && (allHeads || Number(cell.dataset.head) === head));
    });
  }
}

/** Every statistic of one head, for its tooltip. */
function statTitle(stats: ModelInput["stats"], layer: number, head: number): string {
  return Object.entries(STATISTIC_LABELS)
    .map(([name, label]) => {
      const value = stats[name as Statistic]?.[layer]?.[head];
      return value === undefined ? "" : `\n${label}: ${value.toFixed(3)}`;
    })
    .join("");
}
