/**
 * The panel above a CompareWidget's two sides (gemma_widget/compare.py): the cosine similarity
 * of their embeddings, the Matryoshka size and pipeline it uses, each side's share of
 * right-to-left attention, and a strip colouring each token by what it contributes.
 * Everything here is set by the kernel except `dimensions` and `contribution`.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import { element, setAttribute, setData, setHidden, setProperty, setText } from "./dom";
import type { RowKind } from "./model";

export type Contribution = "similarity" | "embedding";

/** One side, as `CompareWidget._side_state` reports it. */
export interface SideState {
  title: string;
  error: string;
  text?: string;
  causal?: boolean;
  tokens?: string[];
  kinds?: RowKind[];
  scores?: number[] | null;
  rest?: number | null;
  right_to_left?: number;
  right_to_left_head?: number;
  layer?: number;
  head?: number;
  exact?: boolean;
}

export interface PanelModel {
  dimensions: number;
  contribution: Contribution;
  mode: "pair" | "causal";
  dimension_options: number[];
  similarity: number | null;
  similarity_note: string;
  pipeline: string;
  sides: SideState[];
}

const CONTRIBUTION_LABELS: Record<Contribution, string> = {
  similarity: "to the similarity",
  embedding: "to its own embedding",
};

/** A share in [0, 1] as a percentage; an exact zero stays "0 %" (the causal side's claim). */
export function percent(share: number): string {
  if (share === 0) return "0 %";
  return `${(share * 100).toFixed(share < 0.001 ? 3 : 1)} %`;
}

/**
 * The background of a token adding `score` when the largest magnitude on screen is `largest`:
 * blue for positive, red for negative, stronger with the magnitude.
 */
export function contributionColour(score: number, largest: number): string {
  const strength = largest > 0 ? Math.min(Math.abs(score) / largest, 1) : 0;
  const [r, g, b] = score >= 0 ? [26, 115, 232] : [211, 47, 47];
  return `rgba(${r}, ${g}, ${b}, ${(0.85 * strength).toFixed(3)})`;
}

/** The largest |score| over every side, so both strips share one colour scale. */
export function largestScore(sides: SideState[]): number {
  let largest = 0;
  for (const side of sides) for (const s of side.scores ?? []) largest = Math.max(largest, Math.abs(s));
  return largest;
}

function sum(values: number[]): number {
  return values.reduce((total, v) => total + v, 0);
}

class ComparePanel {
  readonly root: HTMLDivElement;
  private readonly value: HTMLSpanElement;
  private readonly note: HTMLSpanElement;
  private readonly dimensions: HTMLSelectElement;
  private readonly contribution: HTMLSelectElement;
  private readonly pipeline: HTMLDivElement;
  private readonly sidesBox: HTMLDivElement;
  private drawnSides: SideState[] | null = null;

  constructor(private readonly model: AnyModel<PanelModel>, el: HTMLElement) {
    this.root = element("div", "gw-compare");
    const header = element("div", "gw-compare-header", this.root);
    element("span", "gw-compare-label", header).textContent = "cosine similarity";
    this.value = element("span", "gw-similarity", header);
    this.note = element("span", "gw-compare-note", header);
    const sizeLabel = element("label", "gw-compare-option", header);
    sizeLabel.append("dimensions ");
    this.dimensions = element("select", "gw-dimensions", sizeLabel);
    this.dimensions.title = "Matryoshka size: the similarity of the first N dimensions of each embedding.";
    this.dimensions.addEventListener("change", () => this.save("dimensions", Number(this.dimensions.value)));
    const contributionLabel = element("label", "gw-compare-option", header);
    contributionLabel.append("token colours: contribution ");
    this.contribution = element("select", "gw-contribution", contributionLabel);
    for (const [name, label] of Object.entries(CONTRIBUTION_LABELS)) {
      const option = element("option", "", this.contribution);
      option.value = name;
      option.textContent = label;
    }
    this.contribution.addEventListener("change", () =>
      this.save("contribution", this.contribution.value as Contribution));
    this.pipeline = element("div", "gw-pipeline", this.root);
    this.sidesBox = element("div", "gw-compare-sides", this.root);
    el.appendChild(this.root);
    this.refresh();
  }

  private save<K extends "dimensions" | "contribution">(key: K, value: PanelModel[K]): void {
    this.model.set(key, value);
    this.model.save_changes();
  }

  readonly refresh = (): void => {
    const m = this.model;
    const value = m.get("similarity");
    setText(this.value, value === null ? "—" : value.toFixed(4));
    setData(this.root, "similarity", value === null ? "" : String(value));
    setText(this.note, m.get("similarity_note"));
    setHidden(this.note, !m.get("similarity_note"));
    this.drawDimensionOptions(m.get("dimension_options"), m.get("dimensions"));
    setProperty(this.contribution, "value", m.get("contribution"));
    setText(this.pipeline, m.get("pipeline") ? `embedding: ${m.get("pipeline")}` : "");
    const sides = m.get("sides");
    if (sides !== this.drawnSides) {
      this.drawnSides = sides;
      this.sidesBox.replaceChildren(...sides.map((side) => this.drawSide(side, largestScore(sides))));
    }
  };

  private drawDimensionOptions(options: number[], chosen: number): void {
    const wanted = options.join(",");
    if (this.dimensions.dataset.options !== wanted) {
      this.dimensions.dataset.options = wanted;
      this.dimensions.replaceChildren(...options.map((size, index) => {
        const option = document.createElement("option");
        option.value = String(size);
        option.textContent = index === 0 ? `${size} (full)` : String(size);
        return option;
      }));
    }
    setProperty(this.dimensions, "value", String(chosen));
    setProperty(this.dimensions, "disabled", options.length < 2);
  }

  private drawSide(side: SideState, largest: number): HTMLDivElement {
    const box = element("div", "gw-compare-side");
    setData(box, "causal", String(Boolean(side.causal)));
    setData(box, "text", side.text ?? "");
    element("div", "gw-compare-title", box).textContent = side.title;
    if (side.error) {
      element("div", "gw-compare-error", box).textContent = side.error;
      return box;
    }
    if (side.tokens === undefined) {
      element("div", "gw-compare-note", box).textContent = "waiting for the model…";
      return box;
    }
    const direction = element("div", "gw-right-to-left", box);
    setData(direction, "share", String(side.right_to_left ?? 0));
    direction.textContent =
      `attention to later tokens (right to left): ${percent(side.right_to_left ?? 0)} over all ` +
      `layers and heads, ${percent(side.right_to_left_head ?? 0)} in layer ${side.layer}, head ${side.head}`;
    direction.title = side.causal
      ? "A causal mask lets each token see only itself and earlier tokens, so this is exactly zero."
      : "Share of each token's attention that goes to tokens after it, averaged over tokens.";
    const strip = element("div", "gw-contribution-strip", box);
    const scores = side.scores ?? null;
    const kinds = side.kinds ?? [];
    side.tokens.forEach((token, index) => {
      const chip = element("span", `gw-chip gw-chip-${kinds[index] ?? "text"}`, strip);
      chip.textContent = token;
      if (scores) {
        chip.style.background = contributionColour(scores[index], largest);
        chip.title = `${token}: ${scores[index] >= 0 ? "+" : ""}${scores[index].toFixed(4)}`;
        setData(chip, "score", String(scores[index]));
      }
    });
    const caption = element("div", "gw-compare-caption", box);
    if (scores) {
      const target = this.model.get("contribution") === "similarity" ? "the similarity" : "the embedding";
      const exact = side.exact === false ? " (linearised: the head is not linear)" : "";
      caption.textContent =
        `tokens add ${sum(scores).toFixed(4)} to ${target}` +
        (side.rest ? `; ${side.rest.toFixed(4)} belongs to no token (biases)` : "") + exact;
    } else {
      caption.textContent = "no contributions to show (no similarity between these sides)";
    }
    setAttribute(box, "aria-label", side.title);
    return box;
  }
}

function render({ model, el }: RenderProps<PanelModel>): () => void {
  const panel = new ComparePanel(model, el);
  const events = [
    "dimensions", "contribution", "dimension_options", "similarity", "similarity_note",
    "pipeline", "sides",
  ].map((name) => `change:${name}`);
  for (const event of events) model.on(event, panel.refresh);
  return () => {
    for (const event of events) model.off(event, panel.refresh);
    panel.root.remove();
  };
}

export default { render };
