/**
 * The synced state of AttentionWidget. Mirrors the `.tag(sync=True)` traits in
 * gemma_widget/widget.py: change both together.
 */
import type { Scale } from "./colour";
import type { AttentionMeta, StripMeta, WindowMeta } from "./wire";

export type Status = "loading" | "running" | "ready" | "error";
export type ViewName = "head" | "matrix" | "model";
export type RowKind = "text" | "special" | "prompt";
/** gemma_widget/statistics.py: `[layer][head]` values of each statistic. */
export type Statistic = "entropy" | "distance" | "sink" | "right_to_left" | "left_to_right";

export interface WidgetModel {
  // set by the user (front end or Python)
  text: string;
  model: string;
  layer: number;
  head: number;
  all_heads: boolean;
  prompt: string;
  view: ViewName;
  selected_token: number;
  hide_special: boolean;
  merge_words: boolean;
  scale: Scale;
  statistic: Statistic;
  /** "causal": the same weights under a causal mask (gemma_widget/masks.py). */
  mask: "model" | "causal";
  /** Long texts: first row of the head view's window. */
  window_start: number;
  // reported by the kernel
  status: Status;
  error: string;
  error_fix: string;
  notice: string;
  tokens: string[];
  special: boolean[];
  prompt_mask: boolean[];
  rendered_prompt: string;
  prompts: Record<string, string>;
  rendered_text: string;
  num_layers: number;
  num_heads: number;
  model_info: string;
  editable: boolean;
  progress: string;
  view_tokens: string[];
  view_kinds: RowKind[];
  renormalised: boolean;
  head_stats: Partial<Record<Statistic, number[][]>>;
  layer_types: string[];
  num_kv_heads: number;
  _attention_buffer: DataView | ArrayBuffer | Uint8Array | null;
  _attention_meta: AttentionMeta | Record<string, never>;
  _thumbnail_buffer: DataView | ArrayBuffer | Uint8Array | null;
  _thumbnail_meta: AttentionMeta | Record<string, never>;
  _token_buffer: DataView | ArrayBuffer | Uint8Array | null;
  _token_meta: StripMeta | Record<string, never>;
  _window_buffer: DataView | ArrayBuffer | Uint8Array | null;
  _window_meta: WindowMeta | Record<string, never>;
  /** Set only by standalone pages (gemma_widget/export.py): no kernel behind the view. */
  _standalone?: boolean;
}
