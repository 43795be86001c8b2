/**
 * Front end of AttentionWidget: the controls, the watchdog, and three views that redraw as the
 * user types: the bertviz-style head view (drawn here), the matrix view (matrix-view.ts) and
 * the model view (model-view.ts), with the pinned token's strip (token-strip.ts) below.
 *
 * Test hooks (documented in the README): `.gw-root[data-status][data-rendered-text][data-view]`,
 * `.gw-text`, `.gw-token[data-index][data-side]`, `.gw-view-tab[data-view]`, `.gw-thumb`.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import {
  ROW_HEIGHT,
  displayToken,
  focusWeights,
  groupLines,
  headColour,
  headsShown,
  LINE_WIDTH,
  lineStrands,
  rowCentre,
  tokenWindow,
  WINDOW_ROWS,
  type Focus,
  type TokenWindow,
} from "./layout";
import type { Scale } from "./colour";
import { element, setAttribute, setData, setHidden, setProperty, setText } from "./dom";
import {
  headViewSvg,
  imageSize,
  matrixSvg,
  modelSvg,
  svgToPng,
  type Colours,
  type HeadViewImage,
  type SvgImage,
} from "./image";
import { MatrixView } from "./matrix-view";
import type { Statistic, Status, ViewName, WidgetModel } from "./model";
import { ModelView, STATISTIC_LABELS } from "./model-view";
import { TokenStrip } from "./token-strip";
import { ViewSync, type ChangeKind } from "./view-sync";
import {
  AttentionBlock,
  WindowBlock,
  decodeAttention,
  decodeStrips,
  decodeWindow,
  stripsFromBlock,
  type AttentionMeta,
  type WeightSource,
} from "./wire";

const LINE_AREA_WIDTH = 180;
/**
 * The lines canvas never grows past the view's visible height (`.gw-view`'s max-height in
 * widget.css): it sticks to the top of the scrolled view and draws the rows in sight. A canvas
 * as tall as 256 rows (5632 px) took headless Chromium 600 ms to composite after every redraw.
 */
const MAX_CANVAS_HEIGHT = 640;
/** Text waiting this long for its result: ask the kernel whether it is there at all. */
export const PING_AFTER_MS = 4000;
/** No answer to that ping this long: tell the user the kernel is not answering. */
export const SILENT_AFTER_MS = 4000;
/**
 * A wait shorter than this is not shown (no "running…", no dimming): flashing it would cost the
 * browser a frame, and the CPU the forward pass needs, on every keystroke. `data-status` still
 * says `running` at once.
 */
export const SHOW_WAIT_AFTER_MS = 200;

function checkbox(label: string, className: string, parent: HTMLElement, title: string) {
  const wrap = element("label", `${className}-label`, parent);
  const input = element("input", className, wrap);
  input.type = "checkbox";
  wrap.append(` ${label}`);
  wrap.title = title;
  return input;
}

function select(label: string, className: string, parent: HTMLElement, options: Record<string, string>) {
  const wrap = element("label", `${className}-label`, parent);
  wrap.append(`${label} `);
  const input = element("select", className, wrap);
  for (const [value, text] of Object.entries(options)) {
    const option = element("option", "", input);
    option.value = value;
    option.textContent = text;
  }
  return input;
}

const VIEW_LABELS: Record<ViewName, string> = { head: "Head", matrix: "Matrix", model: "Model" };
const SCALE_LABELS: Record<Scale, string> = { linear: "linear", log: "log", power: "power (√)" };

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
class AttentionView {
  readonly root: HTMLDivElement;
  private readonly textBox: HTMLTextAreaElement;
  private readonly layer: ReturnType<typeof slider>;
  private readonly head: ReturnType<typeof slider>;
  private readonly allHeads: HTMLInputElement;
  private readonly prompt: HTMLSelectElement;
  private readonly tabs: HTMLButtonElement[];
  private readonly hideSpecial: HTMLInputElement;
  private readonly mergeWords: HTMLInputElement;
  private readonly scale: HTMLSelectElement;
  private readonly statistic: HTMLSelectElement;
  private readonly renormalisedBadge: HTMLSpanElement;
  private readonly causalBadge: HTMLSpanElement;
  private readonly headPane: HTMLDivElement;
  private readonly matrix: MatrixView;
  private readonly modelGrid: ModelView;
  private readonly strip: TokenStrip;
  private readonly windowBar: HTMLDivElement;
  private readonly windowInput: HTMLInputElement;
  private readonly windowLabel: HTMLSpanElement;
  /** Long texts: the head view shows tokens [window.start, window.end) (layout.ts). */
  private window: TokenWindow = { start: 0, end: 0 };
  private windowedPin = -1;
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
  /** As tall as the token columns; holds the canvas, which sticks to the visible part. */
  private readonly lineArea: HTMLDivElement;
  private readonly viewArea: HTMLDivElement;
  private block: AttentionBlock | null = null;
  private takenBuffer: WidgetModel["_attention_buffer"] = null;
  /** Long texts: the window of every layer, so layer switches need not ask the kernel. */
  private windowBlock: WindowBlock | null = null;
  private takenWindow: WidgetModel["_window_buffer"] = null;
  /** What the canvas shows (layer, heads, focus, size), so an unchanged frame is not redrawn. */
  private linesKey = "";
  private drawnTokens: string[] = [];
  private focus: Focus = null;
  private frame = 0;
  private readonly sync = new ViewSync(() => this.model.save_changes());
  private lastHeard = Date.now();
  private ping: { id: number; sentAt: number } | null = null;
  private pings = 0;
  private readonly watchdog: ReturnType<typeof setInterval>;
  private waitingSince = 0;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;

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

    const options = element("div", "gw-options", controls);
    const tabs = element("div", "gw-tabs", options);
    tabs.setAttribute("role", "tablist");
    this.tabs = (Object.keys(VIEW_LABELS) as ViewName[]).map((name) => {
      const tab = element("button", "gw-view-tab", tabs);
      tab.type = "button";
      tab.dataset.view = name;
      tab.textContent = VIEW_LABELS[name];
      tab.setAttribute("role", "tab");
      tab.addEventListener("click", () => this.setOption("view", name));
      return tab;
    });
    this.hideSpecial = checkbox(
      "hide special & prompt tokens", "gw-hide-special", options,
      "Hide <bos>, <eos> and prompt tokens; the other rows are renormalised to sum to 1.",
    );
    this.mergeWords = checkbox(
      "words", "gw-merge-words", options,
      "Merge sub-word pieces into words: sum over attended pieces, mean over attending pieces.",
    );
    this.scale = select("Colour scale", "gw-scale", options, SCALE_LABELS);
    this.statistic = select("Statistic", "gw-statistic", options, STATISTIC_LABELS);
    this.renormalisedBadge = element("span", "gw-renormalised", options);
    this.renormalisedBadge.textContent = "renormalised";
    this.renormalisedBadge.title =
      "Special and prompt tokens are hidden: each row is the share of attention given to the shown tokens.";

    const statusLine = element("div", "gw-status-line", this.root);
    this.statusBadge = element("span", "gw-status", statusLine);
    this.causalBadge = element("span", "gw-causal", statusLine);
    this.causalBadge.textContent = "causal mask";
    this.causalBadge.title =
      "The model's weights under a causal mask: each token sees only itself and the tokens before it.";
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

    this.windowBar = element("div", "gw-window-bar", this.root);
    this.windowLabel = element("span", "gw-window-label", this.windowBar);
    this.windowInput = element("input", "gw-window", this.windowBar);
    this.windowInput.type = "range";
    this.windowInput.min = "0";
    this.windowInput.setAttribute("aria-label", "First token shown");
    this.windowBar.hidden = true;
    const view = element("div", "gw-view", this.root);
    this.viewArea = view;
    this.headPane = element("div", "gw-head-view", view);
    this.sources = element("div", "gw-column gw-sources", this.headPane);
    this.lineArea = element("div", "gw-line-area", this.headPane);
    this.lineArea.style.width = `${LINE_AREA_WIDTH}px`;
    this.canvas = element("canvas", "gw-lines", this.lineArea);
    this.targets = element("div", "gw-column gw-targets", this.headPane);
    this.canvas.style.width = `${LINE_AREA_WIDTH}px`;
    this.matrix = new MatrixView((row) => this.togglePin(row));
    this.modelGrid = new ModelView((layer, head) => {
      this.model.set("layer", layer);
      this.model.set("head", head);
      this.model.set("all_heads", false);
      this.model.set("view", "head");
      this.changed("click");
    });
    view.append(this.matrix.root, this.modelGrid.root);
    this.strip = new TokenStrip(() => this.togglePin(-1));
    this.root.appendChild(this.strip.root);

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
    setHidden(this.silentNotice, !silent);
    setData(this.root, "kernel", silent ? "silent" : "alive");
  }

  /** Any word from the kernel (a pong, or a change to a trait only it sets): it is alive. */
  onKernelMessage = (content: unknown): void => {
    const message = content as { kind?: unknown; id?: unknown } | null;
    if (message?.kind === "export") void this.answerExport(content as ExportRequest);
    if (message?.kind === "pong" && message.id !== this.ping?.id) return; // an old pong
    this.heard();
  };

  private imageColours(): Colours {
    const style = getComputedStyle(this.root);
    return {
      foreground: style.getPropertyValue("--gw-fg").trim() || "#1f1f1f",
      muted: style.getPropertyValue("--gw-muted").trim() || "#666",
      background: style.getPropertyValue("--gw-bg").trim() || "#fff",
    };
  }

  /** The view on screen as SVG, or null when nothing is drawn. */
  private currentSvg(): SvgImage | null {
    const m = this.model;
    const view = m.get("view") ?? "head";
    const layer = Math.min(m.get("layer"), Math.max(m.get("num_layers") - 1, 0));
    const name = m.get("model_info") || m.get("model");
    if (!this.block || this.root.classList.contains("gw-stale")) return null;
    if (view === "matrix") {
      const heads = m.get("all_heads") ? "mean of all heads" : `head ${m.get("head")}`;
      const image = this.matrix.image(`${name} · layer ${layer} · ${heads} · ${m.get("scale")} scale`, this.imageColours());
      return image && matrixSvg(image);
    }
    if (view === "model") {
      const statistic = STATISTIC_LABELS[m.get("statistic") ?? "entropy"];
      const image = this.modelGrid.image(`${name} · under each head: ${statistic}`, this.imageColours());
      return image && modelSvg(image);
    }
    const image = this.currentImage();
    return image && { svg: headViewSvg(image), ...imageSize(image) };
  }

  /** The head view as an image description, or null when nothing is drawn. */
  private currentImage(): HeadViewImage | null {
    const m = this.model;
    const layer = Math.min(m.get("layer"), Math.max(m.get("num_layers") - 1, 0));
    const source = this.headSource(layer);
    if (!source) return null;
    const heads = headsShown(m.get("head"), m.get("all_heads"), source.meta.heads);
    const headLabel = m.get("all_heads") ? "all heads" : `head ${m.get("head")}`;
    const { start, end } = this.window;
    const kinds = (m.get("view_kinds") ?? []).slice(start, end);
    return {
      title: `${m.get("model_info") || m.get("model")} · layer ${layer} · ${headLabel}` +
        (end - start < this.drawnTokens.length ? ` · tokens ${start}–${end - 1}` : ""),
      tokens: this.drawnTokens.slice(start, end),
      offset: start,
      special: kinds.map((kind) => kind === "special"),
      inPrompt: kinds.map((kind) => kind === "prompt"),
      groups: groupLines(source, layer, heads, this.currentFocus(), this.window),
      lineAreaWidth: LINE_AREA_WIDTH,
      colours: this.imageColours(),
    };
  }

  /** Encode the view on screen as SVG or PNG bytes. */
  async renderImage(format: "svg" | "png", scale = 1): Promise<Blob | null> {
    const image = this.currentSvg();
    if (!image) return null;
    if (format === "svg") return new Blob([image.svg], { type: "image/svg+xml" });
    return svgToPng(image.svg, image.width, image.height, scale);
  }

  private async download(format: "svg" | "png"): Promise<void> {
    const blob = await this.renderImage(format, window.devicePixelRatio || 1);
    if (!blob) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `attention-${this.model.get("view") ?? "head"}-layer${this.model.get("layer")}.${format}`;
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
      this.sync.flush(); // at once: the forward pass waits for it
      this.refresh();
    });
    // The caret moving in the text box is nobody else's business: every code editor of a
    // JupyterLab notebook (one per cell) listens for selection changes on the document and
    // reads the selection with a forced layout, 1.3-3.2 ms of each keystroke with one cell.
    this.textBox.addEventListener("selectionchange", (event) => event.stopPropagation());
    // Scrolling a long head view brings other rows into the canvas' sight: redraw them.
    this.viewArea.addEventListener("scroll", () => this.refresh(), { passive: true });
    this.windowInput.addEventListener("input", () => {
      this.setWindowStart(this.windowInput.valueAsNumber);
      this.refresh();
    });
    this.layer.input.addEventListener("input", () => this.setNumber("layer", this.layer.input));
    this.head.input.addEventListener("input", () => this.setNumber("head", this.head.input));
    this.prompt.addEventListener("change", () => {
      this.model.set("prompt", this.prompt.value);
      this.sync.flush();
      this.refresh();
    });
    this.allHeads.addEventListener("change", () => this.setOption("all_heads", this.allHeads.checked));
    this.hideSpecial.addEventListener("change", () => this.setOption("hide_special", this.hideSpecial.checked));
    this.mergeWords.addEventListener("change", () => this.setOption("merge_words", this.mergeWords.checked));
    this.scale.addEventListener("change", () => this.setOption("scale", this.scale.value as Scale));
    this.statistic.addEventListener("change", () =>
      this.setOption("statistic", this.statistic.value as Statistic),
    );
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
      column.addEventListener("click", (event) => {
        const token = (event.target as HTMLElement).closest<HTMLElement>(".gw-token");
        if (token) this.togglePin(Number(token.dataset.index));
      });
    }
  }

  private setOption<K extends "view" | "all_heads" | "hide_special" | "merge_words" | "scale" | "statistic">(
    name: K,
    value: WidgetModel[K],
  ): void {
    this.model.set(name, value);
    this.changed("click");
  }

  /** Pin a row (click), unpin it (click it again), or unpin with -1. */
  private togglePin(row: number): void {
    const next = row === this.model.get("selected_token") ? -1 : row;
    this.model.set("selected_token", next);
    this.changed("click");
  }

  private setNumber(name: "layer" | "head", input: HTMLInputElement): void {
    this.model.set(name, Number(input.value));
    this.changed("drag");
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
      this.sync.painted(this.root.classList.contains("gw-stale"));
    });
  }

  /** A view change made in the page: drawn now, sent to the kernel after (view-sync.ts). */
  private changed(kind: ChangeKind): void {
    this.sync.changed(kind);
    this.refresh();
  }

  dispose(): void {
    this.sync.dispose();
    clearInterval(this.watchdog);
    clearTimeout(this.waitTimer);
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
    this.syncOptions();
    const kernelStatus = m.get("status");
    // A result for text the box no longer holds (or another prompt, or other rows) is never drawn.
    const meta = m.get("_attention_meta") as Partial<AttentionMeta>;
    const current =
      m.get("rendered_text") === this.textBox.value &&
      m.get("rendered_prompt") === m.get("prompt") &&
      (meta.hide_special ?? false) === m.get("hide_special") &&
      (meta.merge_words ?? false) === m.get("merge_words");
    let status: Status = kernelStatus;
    if (kernelStatus === "ready" && !current) status = "running";
    const showWait = this.waitShown(status === "running" || status === "loading");
    this.showStatus(status, showWait);

    if (current && kernelStatus !== "error") {
      this.takeResult();
    }
    const view = m.get("view") ?? "head";
    setData(this.root, "view", view);
    setHidden(this.headPane, view !== "head");
    setHidden(this.matrix.root, view !== "matrix");
    setHidden(this.modelGrid.root, view !== "model");
    const source = view === "head" ? this.headSource(layer) : null;
    const canShowLayer = view === "head" ? source !== null : (this.block?.hasLayer(layer) ?? false);
    const canShow = view === "model" ? this.modelMaps() !== null : canShowLayer;
    this.root.classList.toggle("gw-stale", (!current && showWait) || !canShow);
    const pinned = this.pinned();
    setHidden(this.renormalisedBadge, !(this.block && m.get("renormalised")));
    if (!this.block) {
      setHidden(this.strip.root, true);
      return;
    }
    const heads = headsShown(head, allHeads, this.block.meta.heads);
    // What is on screen, for tests and benchmarks: "head:5:0", "matrix:5:0,1,2", "model".
    let drawn = "";
    if (view === "head" && source) {
      this.syncWindow(pinned);
      this.drawLines(source, layer, heads);
      this.drawWeights(source, layer, heads);
      this.drawLegend(heads);
      drawn = `head:${layer}:${heads.join(",")}`;
    } else if (view === "matrix" && canShowLayer) {
      const scale = m.get("scale") ?? "linear";
      this.matrix.draw({ block: this.block, layer, heads, tokens: this.drawnTokens, scale, pinned });
      drawn = `matrix:${layer}:${heads.join(",")}`;
    } else if (view === "model") {
      const maps = this.modelMaps();
      if (maps) {
        drawn = "model";
        this.modelGrid.draw({
          maps,
          layers: numLayers,
          heads: numHeads,
          kvHeads: m.get("num_kv_heads") ?? numHeads,
          layerTypes: m.get("layer_types") ?? [],
          stats: m.get("head_stats") ?? {},
          statistic: m.get("statistic") ?? "entropy",
          scale: m.get("scale") ?? "linear",
          selected: { layer, head, allHeads },
        });
      }
    }
    setData(this.root, "drawn", drawn);
    this.drawStrip(pinned);
  }

  /** The pinned row of the drawn tokens, or -1. */
  private pinned(): number {
    const row = this.model.get("selected_token") ?? -1;
    return row >= 0 && row < this.drawnTokens.length ? row : -1;
  }

  /** Maps of every layer for the model view: the attention itself, or the kernel's thumbnails. */
  private modelMaps(): AttentionBlock | null {
    const m = this.model;
    if (this.block?.hasAllLayers(m.get("num_layers"))) return this.block;
    const meta = m.get("_thumbnail_meta");
    const maps = decodeAttention(m.get("_thumbnail_buffer"), "layers" in meta ? meta : null);
    return maps?.hasAllLayers(m.get("num_layers")) ? maps : null;
  }

  /** The pinned token in every layer and head, from the attention when it holds every layer. */
  private drawStrip(pinned: number): void {
    const m = this.model;
    let strips = null;
    if (pinned >= 0 && this.block?.hasAllLayers(m.get("num_layers"))) {
      strips = stripsFromBlock(this.block, pinned, m.get("num_layers"));
    } else if (pinned >= 0) {
      const meta = m.get("_token_meta");
      const sent = decodeStrips(m.get("_token_buffer"), "index" in meta ? meta : null);
      if (sent?.index === pinned && sent.n === this.drawnTokens.length) strips = sent;
    }
    setHidden(this.strip.root, strips === null);
    if (strips) this.strip.draw(strips, this.drawnTokens, m.get("scale") ?? "linear");
  }

  private syncOptions(): void {
    const m = this.model;
    const view = m.get("view") ?? "head";
    for (const tab of this.tabs) {
      const active = tab.dataset.view === view;
      tab.classList.toggle("gw-active", active);
      setAttribute(tab, "aria-selected", String(active));
    }
    setProperty(this.hideSpecial, "checked", m.get("hide_special") ?? false);
    setProperty(this.mergeWords, "checked", m.get("merge_words") ?? false);
    setProperty(this.scale, "value", m.get("scale") ?? "linear");
    setProperty(this.statistic, "value", m.get("statistic") ?? "entropy");
    setHidden(this.scale.parentElement!, view === "head");
    setHidden(this.statistic.parentElement!, view !== "model");
    // Without a kernel (standalone page) nobody can recompute the rows.
    const standalone = m.get("_standalone") ?? false;
    setProperty(this.hideSpecial, "disabled", standalone);
    setProperty(this.mergeWords, "disabled", standalone);
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
      setProperty(control.input, "max", String(Math.max(count - 1, 0)));
      setProperty(control.input, "disabled", count === 0 || (control === this.head && allHeads));
      if (control.input.valueAsNumber !== value) control.input.value = String(value);
      setText(control.value, count ? `${value} / ${count - 1}` : "–");
    }
    setProperty(this.allHeads, "checked", allHeads);
  }

  /** The prompt choices come from the kernel (gemma_widget/prompts.py), never duplicated here. */
  private syncEditable(): void {
    // Precomputed attention and standalone pages have no model to run new text through.
    const editable = this.model.get("editable") ?? true;
    if (this.textBox.readOnly !== !editable) this.textBox.readOnly = !editable;
    setProperty(this.prompt, "disabled", !editable);
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
    setProperty(this.prompt, "value", this.model.get("prompt"));
  }

  /** Whether a wait has lasted long enough to show; schedules the redraw that shows it. */
  private waitShown(waiting: boolean): boolean {
    if (!waiting) {
      clearTimeout(this.waitTimer);
      this.waitingSince = 0;
      return false;
    }
    if (!this.waitingSince) {
      this.waitingSince = Date.now();
      this.waitTimer = setTimeout(() => this.refresh(), SHOW_WAIT_AFTER_MS);
    }
    return Date.now() - this.waitingSince >= SHOW_WAIT_AFTER_MS;
  }

  private showStatus(status: Status, showWait: boolean): void {
    const m = this.model;
    setData(this.root, "status", status);
    if (status !== "running" || showWait) { // for a short wait the badge keeps its text
      setText(this.statusBadge, {
        loading: "loading model…",
        running: "running…",
        ready: "ready",
        error: "error",
      }[status]);
    }
    setText(this.info, m.get("model_info") || m.get("model"));
    setHidden(this.causalBadge, m.get("mask") !== "causal");
    setText(this.progress, status === "loading" ? m.get("progress") : "");
    setHidden(this.progress, !this.progress.textContent);
    setText(this.notice, m.get("notice"));
    setHidden(this.notice, !m.get("notice"));
    setHidden(this.errorBox, status !== "error");
    const error = status === "error" ? [m.get("error"), m.get("error_fix")] : [];
    if (this.errorBox.dataset.shown !== JSON.stringify(error)) {
      this.errorBox.dataset.shown = JSON.stringify(error);
      this.errorBox.replaceChildren();
      const [message, fix] = error;
      if (message !== undefined) element("div", "gw-error-message", this.errorBox).textContent = message;
      if (fix) element("div", "gw-error-fix", this.errorBox).textContent = `Fix: ${fix}`;
    }
  }

  /** Adopt the kernel's tokens and attention for the text on screen. */
  private takeResult(): void {
    const m = this.model;
    const meta = m.get("_attention_meta");
    const tokens = m.get("view_tokens") ?? m.get("tokens");
    const buffer = m.get("_attention_buffer");
    this.takeWindow(tokens.length);
    if (buffer === this.takenBuffer && tokens === this.drawnTokens) {
      // Same tokens and attention for another text (e.g. past the model's maximum length, where
      // the kernel sends only the new text: unchanged traits are not sent again).
      setData(this.root, "renderedText", m.get("rendered_text"));
      return;
    }
    const block = decodeAttention(buffer, "layers" in meta ? meta : null);
    if (!block || block.meta.n !== tokens.length) return; // tokens and attention disagree: wait
    this.block = block;
    this.takenBuffer = buffer;
    this.linesKey = "";
    setData(this.root, "renderedText", m.get("rendered_text"));
    setData(this.root, "tokens", String(tokens.length));
    if (tokens !== this.drawnTokens) {
      this.drawnTokens = tokens;
      this.focus = null;
      this.window = { start: 0, end: 0 }; // refilled by syncWindow
    }
  }

  /** Adopt the kernel's window of every layer, when it belongs to the rows on screen. */
  private takeWindow(n: number): void {
    const m = this.model;
    const buffer = m.get("_window_buffer");
    if (buffer === this.takenWindow) return;
    this.takenWindow = buffer;
    const meta = m.get("_window_meta") ?? {}; // absent from standalone pages of short texts
    const block = decodeWindow(buffer, "rows" in meta ? meta : null);
    const matches = block !== null && block.meta.n === n &&
      (block.meta.hide_special ?? false) === m.get("hide_special") &&
      (block.meta.merge_words ?? false) === m.get("merge_words");
    this.windowBlock = matches ? block : null;
    this.linesKey = "";
  }

  /** Long texts: keep the window where the user put it (or on the pinned token); refill it. */
  private syncWindow(pinned: number): void {
    const n = this.drawnTokens.length;
    if (pinned >= 0 && pinned !== this.windowedPin && (pinned < this.window.start || pinned >= this.window.end)) {
      this.setWindowStart(Math.max(0, Math.min(pinned - WINDOW_ROWS / 2, n - WINDOW_ROWS)));
    }
    this.windowedPin = pinned;
    const next = tokenWindow(n, this.model.get("window_start") ?? 0);
    const longText = next.end - next.start < n;
    setHidden(this.windowBar, !longText);
    if (longText) {
      setProperty(this.windowInput, "max", String(n - WINDOW_ROWS));
      if (this.windowInput.valueAsNumber !== next.start) this.windowInput.value = String(next.start);
      setText(
        this.windowLabel,
        `Tokens ${next.start}–${next.end - 1} of ${n} (a long text: each token shows its ` +
          "strongest lines; lines to tokens outside the window are not drawn)",
      );
    }
    if (next.start === this.window.start && next.end === this.window.end) return;
    this.window = next;
    this.linesKey = "";
    const tokens = this.drawnTokens.slice(next.start, next.end);
    const kinds = (this.model.get("view_kinds") ?? []).slice(next.start, next.end);
    this.fillColumn(this.sources, tokens, kinds, "source", next.start);
    this.fillColumn(this.targets, tokens, kinds, "target", next.start);
    this.sizeCanvas(tokens.length);
  }

  /** Move a long text's window; the kernel sends that window of every layer. */
  private setWindowStart(start: number): void {
    if (this.model.get("window_start") === start) return;
    this.model.set("window_start", start);
    this.changed("click"); // the kernel waits for the window to rest before it sends
  }

  /**
   * What the head view draws `layer` from: the attention of that layer when the front end has
   * it, else (a long text) the window of every layer when it holds the rows on screen.
   */
  private headSource(layer: number): WeightSource | null {
    if (this.block?.hasLayer(layer)) return this.block;
    const win = this.windowBlock;
    if (!win || !win.hasLayer(layer)) return null;
    const { start, end } = tokenWindow(this.drawnTokens.length, this.model.get("window_start") ?? 0);
    return win.covers(start, end) ? win : null;
  }

  private fillColumn(
    column: HTMLElement,
    tokens: string[],
    kinds: string[],
    side: "source" | "target",
    offset: number,
  ): void {
    // Typing changes a token or two: rewrite rows in place instead of rebuilding the column,
    // so the browser re-lays out and repaints only what changed (it shares the CPU with the
    // kernel's forward pass).
    const rows = column.children;
    while (rows.length > tokens.length) column.lastElementChild!.remove();
    tokens.forEach((token, k) => {
      let node = rows[k] as HTMLDivElement | undefined;
      if (!node) {
        node = element("div", "gw-token", column);
        node.dataset.side = side;
        node.style.height = `${ROW_HEIGHT}px`;
        element("span", "gw-token-text", node);
        element("span", "gw-weight", node);
      }
      const index = offset + k;
      setData(node, "index", String(index));
      if (node.classList.contains("gw-special") !== (kinds[index] === "special")) {
        node.classList.toggle("gw-special");
      }
      if (node.classList.contains("gw-in-prompt") !== (kinds[index] === "prompt")) {
        node.classList.toggle("gw-in-prompt");
      }
      setText(node.firstElementChild!, displayToken(token));
      setAttribute(node, "title", JSON.stringify(token));
    });
  }

  private sizeCanvas(n: number): void {
    const ratio = window.devicePixelRatio || 1;
    const full = Math.max(n * ROW_HEIGHT, 1);
    this.lineArea.style.height = `${full}px`;
    const height = Math.min(full, MAX_CANVAS_HEIGHT);
    const [width, pixels] = [Math.round(LINE_AREA_WIDTH * ratio), Math.round(height * ratio)];
    if (this.canvas.width === width && this.canvas.height === pixels) return; // keep the bitmap
    this.canvas.style.height = `${height}px`;
    this.canvas.width = width;
    this.canvas.height = pixels;
  }

  private drawLines(source: WeightSource, layer: number, heads: number[]): void {
    const context = this.canvas.getContext("2d");
    if (!context) return;
    const ratio = this.canvas.width / LINE_AREA_WIDTH;
    const height = this.canvas.height / ratio;
    // The rows in sight: where the sticky canvas sits in its area (0 when nothing scrolled).
    const band = Math.max(
      0,
      Math.round(this.canvas.getBoundingClientRect().top - this.lineArea.getBoundingClientRect().top),
    );
    const key = JSON.stringify([layer, heads, this.currentFocus(), height, band, this.window]);
    if (key === this.linesKey) return;
    this.linesKey = key;
    context.setTransform(ratio, 0, 0, ratio, 0, -band * ratio);
    context.clearRect(0, band, LINE_AREA_WIDTH, height);
    const top = this.window.start;
    for (const group of groupLines(source, layer, heads, this.currentFocus(), this.window)) {
      const strands = lineStrands(ratio, group.opacity);
      context.lineWidth = strands.width;
      context.strokeStyle = headColour(group.head);
      context.globalAlpha = strands.alpha;
      context.beginPath();
      for (const [i, j] of group.pairs) {
        const [from, to] = [rowCentre(i - top), rowCentre(j - top)];
        // Both ends above or both below the rows in sight: nothing of it shows.
        if (Math.max(from, to) < band - LINE_WIDTH || Math.min(from, to) > band + height + LINE_WIDTH) {
          continue;
        }
        for (const offset of strands.offsets) {
          context.moveTo(0, from + offset);
          context.lineTo(LINE_AREA_WIDTH, to + offset);
        }
      }
      context.stroke();
    }
    context.globalAlpha = 1;
  }

  /** The token hovered, else the one pinned (both directions), else none. */
  private currentFocus(): Focus {
    const pinned = this.pinned();
    return this.focus ?? (pinned >= 0 ? { side: "both", index: pinned } : null);
  }

  /**
   * While a token is focused, highlight it and write the weights in the other column: for a
   * source what it attends to, for a target what attends to it, for a pinned token both.
   */
  private drawWeights(source: WeightSource, layer: number, heads: number[]): void {
    const focus = this.currentFocus();
    const pinned = this.pinned();
    for (const [column, side, other] of [
      [this.sources, "source", "target"],
      [this.targets, "target", "source"],
    ] as const) {
      // This column shows the weights of a token focused on the other side.
      const shows = focus !== null && (focus.side === other || focus.side === "both");
      const weights = shows ? focusWeights(source, layer, heads, { side: other, index: focus!.index }) : null;
      column.querySelectorAll<HTMLElement>(".gw-token").forEach((node) => {
        const index = Number(node.dataset.index);
        const focused = focus !== null && (focus.side === side || focus.side === "both") && focus.index === index;
        node.classList.toggle("gw-focused", focused);
        node.classList.toggle("gw-pinned", index === pinned);
        const weight = node.querySelector<HTMLElement>(".gw-weight");
        if (weight) setText(weight, weights ? weights[index].toFixed(3) : "");
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
  const view = new AttentionView(model, el);
  // Traits only the kernel sets: a change to one of them is also a sign of life.
  const kernelOwned = [
    "status", "error", "error_fix", "notice", "tokens", "special", "prompt_mask", "rendered_text",
    "rendered_prompt", "prompts", "num_layers", "num_heads", "model_info", "editable", "progress",
    "view_tokens", "view_kinds", "renormalised", "head_stats", "layer_types", "num_kv_heads",
    "_attention_buffer", "_attention_meta", "_thumbnail_buffer", "_thumbnail_meta",
    "_token_buffer", "_token_meta", "_window_buffer", "_window_meta",
  ].map((name) => `change:${name}`);
  const userSet = [
    "text", "layer", "head", "all_heads", "prompt", "view", "selected_token", "hide_special",
    "merge_words", "scale", "statistic", "mask", "window_start",
  ];
  const events = [
    ...userSet.map((name) => `change:${name}`),
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
