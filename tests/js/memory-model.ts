/**
 * An in-memory stand-in for the kernel side of the comm, and a mount helper, for rendering
 * the view in jsdom (the real kernel is exercised by the browser tests).
 */
import { vi } from "vitest";
import type { AnyModel } from "@anywidget/types";
import widget from "../../js/widget";
import type { WidgetModel } from "../../js/model";
import { diagonalHead, encode } from "./fixtures";

export class MemoryModel {
  state: WidgetModel;
  saved: Array<Partial<WidgetModel>> = [];
  private pending: Partial<WidgetModel> = {};
  private listeners = new Map<string, Set<(...args: unknown[]) => void>>();

  constructor(state: Partial<WidgetModel>) {
    this.state = {
      text: "", model: "m", layer: 0, head: 0, all_heads: false, prompt: "none",
      prompt_mask: [], rendered_prompt: "none", prompts: { none: "", query: "task: q | query: " },
      status: "loading", error: "",
      error_fix: "", notice: "", tokens: [], special: [], rendered_text: "", num_layers: 0,
      num_heads: 0, model_info: "", editable: true, progress: "", _attention_buffer: null, _attention_meta: {},
      view: "head", selected_token: -1, hide_special: false, merge_words: false, scale: "linear",
      statistic: "entropy", mask: "model", window_start: 0, _window_buffer: null, _window_meta: {}, view_tokens: [], view_kinds: [], renormalised: false, head_stats: {},
      layer_types: [], num_kv_heads: 0, _thumbnail_buffer: null, _thumbnail_meta: {},
      _token_buffer: null, _token_meta: {},
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
  on(event: string, callback: (...args: unknown[]) => void): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }
  off(event?: string | null, callback?: ((...args: unknown[]) => void) | null): void {
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
  sent: unknown[] = [];
  send(content: unknown): void {
    this.sent.push(content);
  }
  /** A custom message from the kernel. */
  kernelSends(content: unknown): void {
    this.listeners.get("msg:custom")?.forEach((f) => (f as (c: unknown) => void)(content));
  }
  widget_manager = {} as AnyModel["widget_manager"];
}

export function resultFor(text: string, tokens: string[]): Partial<WidgetModel> {
  const n = tokens.length;
  const { bytes, meta } = encode([[diagonalHead(n, 0.5), diagonalHead(n, 0.9)]]);
  const special = tokens.map((t) => t === "<bos>");
  return {
    status: "ready", rendered_text: text, tokens, special, view_tokens: tokens,
    view_kinds: special.map((s) => (s ? "special" : "text")),
    num_layers: 1, num_heads: 2, _attention_buffer: bytes, _attention_meta: meta,
  };
}

/** Let the view draw: one animation frame (advanced by hand under fake timers). */
export async function nextFrame(): Promise<void> {
  if (vi.isFakeTimers()) {
    vi.advanceTimersByTime(50);
    return;
  }
  await new Promise((resolve) => requestAnimationFrame(() => resolve(null)));
}

/** The drawing frame, then the task after it: view changes reach the kernel by then. */
export async function afterPaint(): Promise<void> {
  await nextFrame();
  if (vi.isFakeTimers()) {
    vi.advanceTimersByTime(1);
    return;
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
}

export async function mount(state: Partial<WidgetModel> = {}) {
  const model = new MemoryModel(state);
  const el = document.createElement("div");
  document.body.appendChild(el);
  const render = widget.render as unknown as (props: object) => () => void;
  const cleanup = render({ model, el, signal: new AbortController().signal });
  await nextFrame();
  const root = el.querySelector<HTMLElement>(".gw-root")!;
  return { model, el, root, cleanup };
}
