/** The CompareWidget panel (js/compare.ts) in jsdom, driven by an in-memory model. */
import { afterEach, describe, expect, it } from "vitest";
import compare, { contributionColour, largestScore, percent, type PanelModel, type SideState } from "../../js/compare";

class PanelMemory {
  saved: Array<Partial<PanelModel>> = [];
  private listeners = new Map<string, Set<() => void>>();
  constructor(public state: PanelModel) {}
  get<K extends keyof PanelModel>(key: K): PanelModel[K] {
    return this.state[key];
  }
  set<K extends keyof PanelModel>(key: K, value: PanelModel[K]): void {
    this.state[key] = value;
    this.saved.push({ [key]: value } as Partial<PanelModel>);
  }
  save_changes(): void {}
  on(event: string, callback: () => void): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }
  off(event: string, callback: () => void): void {
    this.listeners.get(event)?.delete(callback);
  }
  count(): number {
    return [...this.listeners.values()].reduce((sum, set) => sum + set.size, 0);
  }
  kernelSets(update: Partial<PanelModel>): void {
    Object.assign(this.state, update);
    for (const key of Object.keys(update)) this.listeners.get(`change:${key}`)?.forEach((f) => f());
  }
}

const side = (title: string, tokens: string[], scores: number[] | null, extra: Partial<SideState> = {}): SideState => ({
  title, error: "", text: tokens.join(""), tokens, kinds: tokens.map((t) => (t === "<bos>" ? "special" : "text")),
  scores, rest: 0, right_to_left: 0.25, right_to_left_head: 0.5, layer: 1, head: 2, exact: true, ...extra,
});

function mount(state: Partial<PanelModel>): { model: PanelMemory; el: HTMLElement; cleanup: () => void } {
  const model = new PanelMemory({
    dimensions: 768, contribution: "similarity", mode: "pair", dimension_options: [768, 512, 256, 128],
    similarity: null, similarity_note: "", pipeline: "", sides: [], ...state,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const render = compare.render as unknown as (props: object) => () => void;
  const cleanup = render({ model, el, signal: new AbortController().signal });
  return { model, el, cleanup };
}

afterEach(() => document.body.replaceChildren());

describe("compare panel", () => {
  it("shows the similarity, the pipeline and one coloured chip per token", () => {
    const { el } = mount({
      similarity: 0.81234, pipeline: "Sentence Transformers pipeline of m: mean pooling → normalise",
      sides: [side("left · query", ["<bos>", "a", " cat"], [0.1, 0.5, 0.21234]), side("right · document", ["<bos>", "b"], [-0.2, 1.0])],
    });
    expect(el.querySelector(".gw-similarity")!.textContent).toBe("0.8123");
    expect((el.querySelector(".gw-compare") as HTMLElement).dataset.similarity).toBe("0.81234");
    expect(el.querySelector(".gw-pipeline")!.textContent).toContain("mean pooling → normalise");
    const chips = [...el.querySelectorAll<HTMLElement>(".gw-chip")];
    expect(chips.map((c) => c.textContent)).toEqual(["<bos>", "a", " cat", "<bos>", "b"]);
    expect(chips[0].classList.contains("gw-chip-special")).toBe(true);
    expect(contributionColour(1.0, 1.0)).toBe("rgba(26, 115, 232, 0.850)"); // the strongest
    expect(chips[4].style.background).toBe("rgba(26, 115, 232, 0.85)");
    expect(chips[3].title).toBe("<bos>: -0.2000");
    expect(el.querySelectorAll(".gw-compare-caption")[0].textContent).toContain("tokens add 0.8123 to the similarity");
  });

  it("renders tokens and titles as text, never as markup", () => {
    const { el } = mount({ sides: [side("<img src=x onerror=alert(1)>", ["<b>bold</b>"], [0.5])] });
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("b")).toBeNull();
    expect(el.querySelector(".gw-chip")!.textContent).toBe("<b>bold</b>");
  });

  it("says why there is no similarity, and shows a side's error in place", () => {
    const { el } = mount({
      similarity: null, similarity_note: "Waiting for both texts",
      sides: [side("left", ["a"], null), { title: "right", error: "No folder at /nope." }],
    });
    expect(el.querySelector(".gw-similarity")!.textContent).toBe("—");
    expect(el.querySelector(".gw-compare-note")!.textContent).toBe("Waiting for both texts");
    expect(el.querySelector(".gw-compare-error")!.textContent).toBe("No folder at /nope.");
  });

  it("states an exactly-zero right-to-left share as 0 % for a causal side", () => {
    const { el } = mount({ sides: [side("left", ["a", "b"], null), side("right", ["a", "b"], null, { causal: true, right_to_left: 0, right_to_left_head: 0 })] });
    const shares = [...el.querySelectorAll<HTMLElement>(".gw-right-to-left")];
    expect(shares[0].textContent).toContain("25.0 % over all layers and heads, 50.0 % in layer 1, head 2");
    expect(shares[1].textContent).toContain("0 % over all layers and heads, 0 % in layer 1");
    expect(shares[1].dataset.share).toBe("0");
  });

  it("sends the chosen Matryoshka size and contribution to the kernel, and redraws on change", () => {
    const { model, el, cleanup } = mount({ similarity: 0.5, sides: [side("left", ["a"], [0.5])] });
    const select = el.querySelector<HTMLSelectElement>(".gw-dimensions")!;
    expect([...select.options].map((o) => o.textContent)).toEqual(["768 (full)", "512", "256", "128"]);
    select.value = "256";
    select.dispatchEvent(new Event("change"));
    expect(model.saved).toContainEqual({ dimensions: 256 });
    const contribution = el.querySelector<HTMLSelectElement>(".gw-contribution")!;
    contribution.value = "embedding";
    contribution.dispatchEvent(new Event("change"));
    expect(model.saved).toContainEqual({ contribution: "embedding" });
    model.kernelSets({ similarity: 0.25 });
    expect(el.querySelector(".gw-similarity")!.textContent).toBe("0.2500");
    cleanup();
    expect(model.count()).toBe(0);
    expect(el.querySelector(".gw-compare")).toBeNull();
  });

  it("formats shares and finds one colour scale for both sides", () => {
    expect(percent(0)).toBe("0 %");
    expect(percent(0.4567)).toBe("45.7 %");
    expect(percent(0.00001)).toBe("0.001 %");
    expect(largestScore([side("a", ["x"], [0.2]), side("b", ["y", "z"], [-0.7, 0.1])])).toBe(0.7);
    expect(contributionColour(-0.7, 0.7)).toBe("rgba(211, 47, 47, 0.850)");
    expect(contributionColour(0, 0)).toBe("rgba(26, 115, 232, 0.000)");
  });
});
