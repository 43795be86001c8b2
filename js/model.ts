/**
 * The synced state of AttentionWidget. Mirrors the `.tag(sync=True)` traits in
 * gemma_widget/widget.py: change both together.
 */
import type { AttentionMeta } from "./wire";

export type Status = "loading" | "running" | "ready" | "error";

export interface WidgetModel {
  // set by the user (front end or Python)
  text: string;
  model: string;
  layer: number;
  head: number;
  all_heads: boolean;
  prompt: string;
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
  _attention_buffer: DataView | ArrayBuffer | Uint8Array | null;
  _attention_meta: AttentionMeta | Record<string, never>;
}
