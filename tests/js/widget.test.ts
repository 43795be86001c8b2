/**
 * The view rendered in jsdom against an in-memory model that stands in for the kernel side of
 * the comm (the real kernel is exercised by the browser tests).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AnyModel } from "@anywidget/types";
import widget from "../../js/widget";
import type { WidgetModel } from "../../js/model";
import { diagonalHead, encode } from "./fixtures";

class MemoryModel {
  state: WidgetModel;
  saved: Array<Partial<WidgetModel>> = [];
  private pending: Partial<WidgetModel> = {};
  private listeners = new Map<string, Set<() => void>>();

  constructor(state: Partial<WidgetModel>) {
    this.state = {
      text: "", model: "m", layer: 0, head: 0, all_heads: false, status: "loading", error: "",
      error_fix: "", notice: "", tokens: [], special: [], rendered_text: "", num_layers: 0,
      num_heads: 0, model_info: "", _attention_buffer: null, _attention_meta: {},
      ...state,
    };
  }
  get<K extends keyof WidgetModel>(key: K): WidgetModel[K] {
    return this.state[key];
  }
  set<K extends keyof WidgetModel>(key: K, value: WidgetModel[K]): void {
    this.state[key] = value;
    this.pending[key] = value;
  }
  save_changes(): void {
    this.saved.push(this.pending);
    this.pending = {};
  }
  on(event: string, callback: () => void): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }
  off(event?: string | null, callback?: (() => void) | null): void {
    if (event && callback) this.listeners.get(event)?.delete(callback);
  }
  listenerCount(): number {
    return [...this.listeners.values()].reduce((sum, set) => sum + set.size, 0);
  }
  /** What a kernel message does: set several traits, then fire their change events. */
  kernelSets(update: Partial<WidgetModel>): void {
    Object.assign(this.state, update);
    for (const key of Object.keys(update)) this.listeners.get(`change:${key}`)?.forEach((f) => f());
  }
  send(): void {}
  widget_manager = {} as AnyModel["widget_manager"];
}

function resultFor(text: string, tokens: string[]): Partial<WidgetModel> {
  const n = tokens.length;
  const { bytes, meta } = encode([[diagonalHead(n, 0.5), diagonalHead(n, 0.9)]]);
  return {
    status: "ready", rendered_text: text, tokens, special: tokens.map((t) => t === "<bos>"),
    num_layers: 1, num_heads: 2, _attention_buffer: bytes, _attention_meta: meta,
  };
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(null)));

async function mount(state: Partial<WidgetModel> = {}) {
  const model = new MemoryModel(state);
  const el = document.createElement("div");
  document.body.appendChild(el);
  const render = widget.render as unknown as (props: object) => () => void;
  const cleanup = render({ model, el, signal: new AbortController().signal });
  await nextFrame();
  const root = el.querySelector<HTMLElement>(".gw-root")!;
  return { model, el, root, cleanup };
}

beforeEach(() => {
  // jsdom has no canvas; the view must cope with a missing 2D context (lines are checked in a
  // real browser by tests/browser).
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockReturnValue(null);
});

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("head view", () => {
  it("draws the tokens of the text on screen, in two columns", async () => {
    const { root } = await mount({ text: "a b", ...resultFor("a b", ["<bos>", "a", " b"]) });
    expect(root.dataset.status).toBe("ready");
    expect(root.dataset.renderedText).toBe("a b");
    const sources = root.querySelectorAll<HTMLElement>('.gw-token[data-side="source"]');
    expect([...sources].map((t) => t.textContent)).toEqual(["<bos>", "a", " b"]);
    expect(root.querySelectorAll('.gw-token[data-side="target"]')).toHaveLength(3);
    expect(sources[0].classList.contains("gw-special")).toBe(true);
    expect(sources[2].dataset.index).toBe("2");
  });

  it("sends each keystroke to the kernel and never draws a result for older text", async () => {
    const { model, root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a"]) });
    const box = root.querySelector<HTMLTextAreaElement>(".gw-text")!;
    box.value = "ab";
    box.dispatchEvent(new Event("input"));
    expect(model.saved.at(-1)).toEqual({ text: "ab" });
    await nextFrame();
    expect(root.dataset.status).toBe("running");
    // The kernel answers for "a" after the user already typed "ab": not drawn.
    model.kernelSets(resultFor("a", ["<bos>", "a", "!"]));
    await nextFrame();
    expect(root.dataset.renderedText).toBe("a");
    expect(root.querySelectorAll('.gw-token[data-side="source"]')).toHaveLength(2);
    expect(root.classList.contains("gw-stale")).toBe(true);
    model.kernelSets(resultFor("ab", ["<bos>", "ab"]));
    await nextFrame();
    expect(root.dataset.renderedText).toBe("ab");
    expect(root.dataset.status).toBe("ready");
    expect(root.classList.contains("gw-stale")).toBe(false);
  });

  it("shows errors and their fix as text, never as HTML", async () => {
    const { model, root } = await mount({ text: "x" });
    model.kernelSets({
      status: "error", error: "<img src=x onerror=alert(1)> failed", error_fix: "<b>do</b> this",
    });
    await nextFrame();
    expect(root.dataset.status).toBe("error");
    const box = root.querySelector<HTMLElement>(".gw-error")!;
    expect(box.hidden).toBe(false);
    expect(box.querySelector("img, b")).toBeNull();
    expect(box.textContent).toContain("<img src=x onerror=alert(1)> failed");
    expect(box.textContent).toContain("Fix: <b>do</b> this");
  });

  it("renders tokens that look like markup as text", async () => {
    const tokens = ["<bos>", "<script>", "\"><svg onload=1>"];
    const { root } = await mount({ text: "t", ...resultFor("t", tokens) });
    expect(root.querySelector("script, svg")).toBeNull();
    expect(root.textContent).toContain("<script>");
  });

  it("moves sliders to the kernel's layer and head, and sends slider moves back", async () => {
    const { model, root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a"]) });
    const head = root.querySelector<HTMLInputElement>(".gw-head")!;
    expect(head.max).toBe("1");
    model.kernelSets({ head: 1 });
    await nextFrame();
    expect(head.value).toBe("1");
    head.value = "0";
    head.dispatchEvent(new Event("input"));
    expect(model.saved.at(-1)).toEqual({ head: 0 });
  });

  it("shows weights beside the other column while a token is hovered", async () => {
    const { root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a", "b"]) });
    const source = root.querySelector<HTMLElement>('.gw-token[data-side="source"][data-index="1"]')!;
    source.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    await nextFrame();
    const weights = [...root.querySelectorAll('.gw-token[data-side="target"] .gw-weight')];
    expect(weights.map((w) => w.textContent)).toEqual(["0.250", "0.500", "0.250"]);
  });

  it("takes text set from Python into the text box", async () => {
    const { model, root } = await mount({ text: "old" });
    model.kernelSets({ text: "set from Python" });
    await nextFrame();
    expect(root.querySelector<HTMLTextAreaElement>(".gw-text")!.value).toBe("set from Python");
  });

  it("cleans up every listener and its DOM", async () => {
    const { model, el, cleanup } = await mount({ text: "a" });
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".gw-root")).toBeNull();
  });
});
