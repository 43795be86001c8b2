/**
 * Front end of AttentionWidget: a bertviz-style head view that redraws as the user types.
 *
 * Test hooks (documented in the README): `.gw-root[data-status][data-rendered-text]`,
 * `.gw-text`, `.gw-token[data-index][data-side]`.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import {
  ROW_HEIGHT,
  displayToken,
  focusWeights,
  groupLines,
  headColour,
  headsShown,
  rowCentre,
  type Focus,
} from "./layout";
import { headViewSvg, imageSize, svgToPng, type HeadViewImage } from "./image";
import type { Status, WidgetModel } from "./model";
import { AttentionBlock, decodeAttention } from "./wire";

const LINE_AREA_WIDTH = 180;
/** Text waiting this long for its result: ask the kernel whether it is there at all. */
export const PING_AFTER_MS = 4000;
/** No answer to that ping this long: tell the user the kernel is not answering. */
export const SILENT_AFTER_MS = 4000;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  parent?: HTMLElement,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  parent?.appendChild(node);
  return node;
}

function slider(label: string, className: string, parent: HTMLElement) {
  const wrap = element("label", "gw-slider", parent);
  element("span", "gw-slider-label", wrap).textContent = label;
  const input = element("input", className, wrap);
  input.type = "range";
  input.min = "0";
  input.step = "1";
  const value = element("output", "gw-slider-value", wrap);
  return { input, value };
}

interface ExportRequest {
  kind: "export";
  id: number;
  format: "svg" | "png";
  scale?: number;
}

/** Everything on screen for one view of the widget. */
class HeadView {
  readonly root: HTMLDivElement;
  private readonly textBox: HTMLTextAreaElement;
  private readonly layer: ReturnType<typeof slider>;
  private readonly head: ReturnType<typeof slider>;
  private readonly allHeads: HTMLInputElement;
  private readonly prompt: HTMLSelectElement;
  private readonly statusBadge: HTMLSpanElement;
  private readonly info: HTMLSpanElement;
  private readonly progress: HTMLSpanElement;
  private readonly notice: HTMLDivElement;
  private readonly silentNotice: HTMLDivElement;
  private readonly errorBox: HTMLDivElement;
  private readonly legend: HTMLDivElement;
  private readonly sources: HTMLDivElement;
  private readonly targets: HTMLDivElement;
  private readonly canvas: HTMLCanvasElement;
  private block: AttentionBlock | null = null;
  private drawnTokens: string[] = [];
  private focus: Focus = null;
  private frame = 0;
  private lastHeard = Date.now();
  private ping: { id: number; sentAt: number } | null = null;
  private pings = 0;
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(
    private readonly model: AnyModel<WidgetModel>,
    el: HTMLElement,
  ) {
    this.root = element("div", "gw-root", el);
    const controls = element("div", "gw-controls", this.root);
    this.textBox = element("textarea", "gw-text", controls);
    this.textBox.rows = 2;
    this.textBox.placeholder = "Type a sentence…";
    this.textBox.spellcheck = false;
    this.textBox.setAttribute("aria-label", "Text");
    const sliders = element("div", "gw-sliders", controls);
    this.layer = slider("Layer", "gw-layer", sliders);
    this.head = slider("Head", "gw-head", sliders);
    const allLabel = element("label", "gw-all-heads-label", sliders);
    this.allHeads = element("input", "gw-all-heads", allLabel);
    this.allHeads.type = "checkbox";
    allLabel.append(" all heads");
    const promptLabel = element("label", "gw-prompt-label", sliders);
    promptLabel.append("Prompt ");
    this.prompt = element("select", "gw-prompt", promptLabel);

    const statusLine = element("div", "gw-status-line", this.root);
    this.statusBadge = element("span", "gw-status", statusLine);
    this.progress = element("span", "gw-progress", statusLine);
    this.info = element("span", "gw-info", statusLine);
    this.legend = element("div", "gw-legend", statusLine);
    for (const format of ["svg", "png"] as const) {
      const button = element("button", `gw-save gw-save-${format}`, statusLine);
      button.type = "button";
      button.textContent = format.toUpperCase();
      button.title = `Save the view as ${format.toUpperCase()}`;
      button.addEventListener("click", () => void this.download(format));
    }
    this.notice = element("div", "gw-notice", this.root);
    this.errorBox = element("div", "gw-error", this.root);
    this.errorBox.setAttribute("role", "alert");
    this.silentNotice = element("div", "gw-silent", this.root);
    this.silentNotice.textContent =
      "The kernel is not answering: it may be busy running a cell, interrupted or restarted. " +
      "Your text stays here; the view catches up when the kernel is free (after a restart, " +
      "re-run the cell).";
    this.silentNotice.hidden = true;
    this.root.dataset.kernel = "alive";

    const view = element("div", "gw-view", this.root);
    this.sources = element("div", "gw-column gw-sources", view);
    this.canvas = element("canvas", "gw-lines", view);
    this.targets = element("div", "gw-column gw-targets", view);
    this.canvas.style.width = `${LINE_AREA_WIDTH}px`;

    this.textBox.value = model.get("text");
    this.listen();
    this.refresh();
    this.watchdog = setInterval(() => this.checkKernel(), 1000);
  }

  /** Is the kernel there? Ping when the text box has waited long; warn when nobody answers. */
  private checkKernel(): void {
    const waiting =
      this.model.get("rendered_text") !== this.textBox.value && this.model.get("status") !== "error";
    const now = Date.now();
    if (!waiting) {
      this.ping = null;
      this.setSilent(false);
    } else if (!this.ping && now - this.lastHeard > PING_AFTER_MS) {
      this.ping = { id: ++this.pings, sentAt: now };
      this.model.send({ kind: "ping", id: this.ping.id });
    } else if (this.ping && now - this.ping.sentAt > SILENT_AFTER_MS) {
      this.setSilent(true);
    }
  }

  private setSilent(silent: boolean): void {
    this.silentNotice.hidden = !silent;
    this.root.dataset.kernel = silent ? "silent" : "alive";
  }

  /** Any word from the kernel (a pong, or a change to a trait only it sets): it is alive. */
  onKernelMessage = (content: unknown): void => {
    const message = content as { kind?: unknown; id?: unknown } | null;
    if (message?.kind === "export") void this.answerExport(content as ExportRequest);
    if (message?.kind === "pong" && message.id !== this.ping?.id) return; // an old pong
    this.heard();
  };

  /** The view on screen as an image description, or null when nothing is drawn. */
  private currentImage(): HeadViewImage | null {
    const m = this.model;
    if (!this.block) return null;
    const layer = Math.min(m.get("layer"), Math.max(m.get("num_layers") - 1, 0));
    if (!this.block.hasLayer(layer)) return null;
    const heads = headsShown(m.get("head"), m.get("all_heads"), this.block.meta.heads);
    const style = getComputedStyle(this.root);
    const headLabel = m.get("all_heads") ? "all heads" : `head ${m.get("head")}`;
    return {
      title: `${m.get("model_info") || m.get("model")} · layer ${layer} · ${headLabel}`,
      tokens: this.drawnTokens,
      special: m.get("special"),
      inPrompt: m.get("prompt_mask") ?? [],
      groups: groupLines(this.block, layer, heads, this.focus),
      lineAreaWidth: LINE_AREA_WIDTH,
      colours: {
        foreground: style.getPropertyValue("--gw-fg").trim() || "#1f1f1f",
        muted: style.getPropertyValue("--gw-muted").trim() || "#666",
        background: style.getPropertyValue("--gw-bg").trim() || "#fff",
      },
    };
  }

  /** Encode the view as SVG or PNG bytes. */
  async renderImage(format: "svg" | "png", scale = 1): Promise<Blob | null> {
    const image = this.currentImage();
    if (!image) return null;
    const svg = headViewSvg(image);
    if (format === "svg") return new Blob([svg], { type: "image/svg+xml" });
    const { width, height } = imageSize(image);
    return svgToPng(svg, width, height, scale);
  }

  private async download(format: "svg" | "png"): Promise<void> {
    const blob = await this.renderImage(format, window.devicePixelRatio || 1);
    if (!blob) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `attention-layer${this.model.get("layer")}.${format}`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  /** Python's `w.save("….svg" | "….png")` asks the front end, which alone knows the view. */
  private async answerExport(request: ExportRequest): Promise<void> {
    const reply = { kind: "export", id: request.id, format: request.format };
    try {
      const blob = await this.renderImage(request.format, request.scale ?? 1);
      if (!blob) {
        this.model.send({ ...reply, error: "nothing is drawn yet" });
        return;
      }
      this.model.send(reply, undefined, [await blob.arrayBuffer()]);
    } catch (error) {
      this.model.send({ ...reply, error: String(error) });
    }
  }

  private heard(): void {
    this.lastHeard = Date.now();
    this.ping = null;
    this.setSilent(false);
  }

  private listen(): void {
    this.textBox.addEventListener("input", () => {
      this.lastHeard = Date.now(); // the wait for an answer starts now
      this.model.set("text", this.textBox.value);
      this.model.save_changes();
      this.refresh();
    });
    this.layer.input.addEventListener("input", () => this.setNumber("layer", this.layer.input));
    this.head.input.addEventListener("input", () => this.setNumber("head", this.head.input));
    this.prompt.addEventListener("change", () => {
      this.model.set("prompt", this.prompt.value);
      this.model.save_changes();
      this.refresh();
    });
    this.allHeads.addEventListener("change", () => {
      this.model.set("all_heads", this.allHeads.checked);
      this.model.save_changes();
      this.refresh();
    });
    for (const [column, side] of [
      [this.sources, "source"],
      [this.targets, "target"],
    ] as const) {
      column.addEventListener("mouseover", (event) => {
        const token = (event.target as HTMLElement).closest<HTMLElement>(".gw-token");
        if (!token) return;
        this.focus = { side, index: Number(token.dataset.index) };
        this.refresh();
      });
      column.addEventListener("mouseleave", () => {
        this.focus = null;
        this.refresh();
      });
    }
  }

  private setNumber(name: "layer" | "head", input: HTMLInputElement): void {
    this.model.set(name, Number(input.value));
    this.model.save_changes();
    this.refresh();
  }

  /** Model changed: take the text if Python set it, then redraw on the next frame. */
  onModelChange = (): void => {
    const text = this.model.get("text");
    if (text !== this.textBox.value && document.activeElement !== this.textBox) {
      this.textBox.value = text;
    }
    this.refresh();
  };

  /** Coalesce every change of one frame (one kernel message sets many traits) into one draw. */
  refresh(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  dispose(): void {
    clearInterval(this.watchdog);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.root.remove();
  }

  private draw(): void {
    const m = this.model;
    const numLayers = m.get("num_layers");
    const numHeads = m.get("num_heads");
    const layer = Math.min(m.get("layer"), Math.max(numLayers - 1, 0));
    const head = m.get("head");
    const allHeads = m.get("all_heads");
    this.syncControls(numLayers, numHeads, layer, head, allHeads);

    this.syncPrompts();
    this.syncEditable();
    const kernelStatus = m.get("status");
    // A result for text the box no longer holds (or another prompt) is never drawn.
    const current =
      m.get("rendered_text") === this.textBox.value &&
      m.get("rendered_prompt") === m.get("prompt");
    let status: Status = kernelStatus;
    if (kernelStatus === "ready" && !current) status = "running";
    this.showStatus(status);

    if (current && kernelStatus !== "error") {
      this.takeResult();
    }
    const canShowLayer = this.block?.hasLayer(layer) ?? false;
    this.root.classList.toggle("gw-stale", !current || !canShowLayer);
    if (this.block && canShowLayer) {
      const heads = headsShown(head, allHeads, this.block.meta.heads);
      this.drawLines(layer, heads);
      this.drawWeights(layer, heads);
      this.drawLegend(heads);
    }
  }

  private syncControls(
    numLayers: number,
    numHeads: number,
    layer: number,
    head: number,
    allHeads: boolean,
  ): void {
    for (const [control, count, value] of [
      [this.layer, numLayers, layer],
      [this.head, numHeads, head],
    ] as const) {
      control.input.max = String(Math.max(count - 1, 0));
      control.input.disabled = count === 0;
      if (control.input.valueAsNumber !== value) control.input.value = String(value);
      control.value.textContent = count ? `${value} / ${count - 1}` : "–";
    }
    this.head.input.disabled ||= allHeads;
    this.allHeads.checked = allHeads;
  }

  /** The prompt choices come from the kernel (gemma_widget/prompts.py), never duplicated here. */
  private syncEditable(): void {
    // Precomputed attention and standalone pages have no model to run new text through.
    const editable = this.model.get("editable") ?? true;
    this.textBox.readOnly = !editable;
    this.prompt.disabled = !editable;
  }

  private syncPrompts(): void {
    const prompts = this.model.get("prompts") ?? {};
    const names = Object.keys(prompts);
    if (this.prompt.options.length !== names.length) {
      this.prompt.replaceChildren(
        ...names.map((name) => {
          const option = element("option", "");
          option.value = name;
          option.textContent = name;
          option.title = prompts[name];
          return option;
        }),
      );
    }
    this.prompt.value = this.model.get("prompt");
  }

  private showStatus(status: Status): void {
    const m = this.model;
    this.root.dataset.status = status;
    this.statusBadge.textContent = {
      loading: "loading model…",
      running: "running…",
      ready: "ready",
      error: "error",
    }[status];
    this.info.textContent = m.get("model_info") || m.get("model");
    this.progress.textContent = status === "loading" ? m.get("progress") : "";
    this.progress.hidden = !this.progress.textContent;
    this.notice.textContent = m.get("notice");
    this.notice.hidden = !m.get("notice");
    this.errorBox.hidden = status !== "error";
    this.errorBox.replaceChildren();
    if (status === "error") {
      element("div", "gw-error-message", this.errorBox).textContent = m.get("error");
      const fix = m.get("error_fix");
      if (fix) element("div", "gw-error-fix", this.errorBox).textContent = `Fix: ${fix}`;
    }
  }

  /** Adopt the kernel's tokens and attention for the text on screen. */
  private takeResult(): void {
    const m = this.model;
    const meta = m.get("_attention_meta");
    const tokens = m.get("tokens");
    const block = decodeAttention(m.get("_attention_buffer"), "layers" in meta ? meta : null);
    if (!block || block.meta.n !== tokens.length) return; // tokens and attention disagree: wait
    this.block = block;
    this.root.dataset.renderedText = m.get("rendered_text");
    if (tokens !== this.drawnTokens) {
      this.drawnTokens = tokens;
      this.focus = null;
      const kinds = { special: m.get("special"), prompt: m.get("prompt_mask") ?? [] };
      this.fillColumn(this.sources, tokens, kinds, "source");
      this.fillColumn(this.targets, tokens, kinds, "target");
      this.sizeCanvas(tokens.length);
    }
  }

  private fillColumn(
    column: HTMLElement,
    tokens: string[],
    kinds: { special: boolean[]; prompt: boolean[] },
    side: "source" | "target",
  ): void {
    column.replaceChildren(
      ...tokens.map((token, index) => {
        const node = element("div", "gw-token");
        node.dataset.index = String(index);
        node.dataset.side = side;
        node.style.height = `${ROW_HEIGHT}px`;
        node.classList.toggle("gw-special", Boolean(kinds.special[index]));
        node.classList.toggle("gw-in-prompt", Boolean(kinds.prompt[index]));
        const label = element("span", "gw-token-text", node);
        label.textContent = displayToken(token);
        node.title = JSON.stringify(token);
        element("span", "gw-weight", node);
        return node;
      }),
    );
  }

  private sizeCanvas(n: number): void {
    const ratio = window.devicePixelRatio || 1;
    const height = Math.max(n * ROW_HEIGHT, 1);
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(LINE_AREA_WIDTH * ratio);
    this.canvas.height = Math.round(height * ratio);
  }

  private drawLines(layer: number, heads: number[]): void {
    const context = this.canvas.getContext("2d");
    if (!context || !this.block) return;
    const ratio = this.canvas.width / LINE_AREA_WIDTH;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, LINE_AREA_WIDTH, this.canvas.height / ratio);
    context.lineWidth = 2;
    for (const group of groupLines(this.block, layer, heads, this.focus)) {
      context.strokeStyle = headColour(group.head);
      context.globalAlpha = group.opacity;
      context.beginPath();
      for (const [i, j] of group.pairs) {
        context.moveTo(0, rowCentre(i));
        context.lineTo(LINE_AREA_WIDTH, rowCentre(j));
      }
      context.stroke();
    }
    context.globalAlpha = 1;
  }

  /** While a token is focused, show the weights on the other side and highlight it. */
  private drawWeights(layer: number, heads: number[]): void {
    const focus = this.focus;
    const weights = focus && this.block ? focusWeights(this.block, layer, heads, focus) : null;
    for (const [column, side] of [
      [this.sources, "source"],
      [this.targets, "target"],
    ] as const) {
      const showsWeights = focus !== null && focus.side !== side;
      column.querySelectorAll<HTMLElement>(".gw-token").forEach((node, index) => {
        node.classList.toggle("gw-focused", focus?.side === side && focus.index === index);
        const weight = node.querySelector<HTMLElement>(".gw-weight");
        if (weight) weight.textContent = showsWeights && weights ? weights[index].toFixed(3) : "";
      });
    }
  }

  private drawLegend(heads: number[]): void {
    const key = heads.join(",");
    if (this.legend.dataset.heads === key) return;
    this.legend.dataset.heads = key;
    this.legend.replaceChildren(
      ...heads.map((head) => {
        const item = element("span", "gw-legend-item");
        const swatch = element("span", "gw-swatch", item);
        swatch.style.background = headColour(head);
        item.append(`head ${head}`);
        return item;
      }),
    );
  }
}

function render({ model, el }: RenderProps<WidgetModel>): () => void {
  const view = new HeadView(model, el);
  // Traits only the kernel sets: a change to one of them is also a sign of life.
  const kernelOwned = [
    "status", "error", "error_fix", "notice", "tokens", "special", "prompt_mask", "rendered_text",
    "rendered_prompt", "prompts", "num_layers", "num_heads", "model_info", "editable", "progress",
    "_attention_buffer", "_attention_meta",
  ].map((name) => `change:${name}`);
  const events = [
    ...["text", "layer", "head", "all_heads", "prompt"].map((name) => `change:${name}`),
    ...kernelOwned,
  ];
  for (const event of events) model.on(event, view.onModelChange);
  for (const event of [...kernelOwned, "msg:custom"]) model.on(event, view.onKernelMessage);
  return () => {
    for (const event of events) model.off(event, view.onModelChange);
    for (const event of [...kernelOwned, "msg:custom"]) model.off(event, view.onKernelMessage);
    view.dispose();
  };
}

export default { render };
