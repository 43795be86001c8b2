/** The head view rendered in jsdom against an in-memory model (tests/js/memory-model.ts). */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SHOW_WAIT_AFTER_MS } from "../../js/widget";
import { afterPaint, mount, nextFrame, resultFor } from "./memory-model";

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
    // A short wait is not shown; a longer one dims the old tokens and says "running…".
    expect(root.classList.contains("gw-stale")).toBe(false);
    expect(root.querySelector(".gw-status")!.textContent).toBe("ready");
    await new Promise((resolve) => setTimeout(resolve, SHOW_WAIT_AFTER_MS + 20));
    await nextFrame();
    expect(root.classList.contains("gw-stale")).toBe(true);
    expect(root.querySelector(".gw-status")!.textContent).toBe("running…");
    model.kernelSets(resultFor("ab", ["<bos>", "ab"]));
    await nextFrame();
    expect(root.dataset.renderedText).toBe("ab");
    expect(root.dataset.status).toBe("ready");
    expect(root.classList.contains("gw-stale")).toBe(false);
  });

  it("takes a result that changes only the text (same tokens and attention)", async () => {
    const { model, root } = await mount({ text: "long", ...resultFor("long", ["<bos>", "long"]) });
    const box = root.querySelector<HTMLTextAreaElement>(".gw-text")!;
    box.value = "long ";
    box.dispatchEvent(new Event("input"));
    await nextFrame();
    expect(root.dataset.status).toBe("running");
    // Past the model's maximum the tokens do not change: the kernel sends only the text.
    model.kernelSets({ rendered_text: "long " });
    await nextFrame();
    expect(root.dataset.renderedText).toBe("long ");
    expect(root.dataset.status).toBe("ready");
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
    await afterPaint();
    expect(model.saved.at(-1)).toEqual({ head: 0 });
  });

  it("keeps the text box's selection changes from the page's other editors", async () => {
    const { root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a"]) });
    const heard: Event[] = [];
    const listener = (event: Event) => heard.push(event);
    document.addEventListener("selectionchange", listener);
    const box = root.querySelector<HTMLTextAreaElement>(".gw-text")!;
    box.dispatchEvent(new Event("selectionchange", { bubbles: true }));
    root.querySelector(".gw-layer")!.dispatchEvent(new Event("selectionchange", { bubbles: true }));
    document.removeEventListener("selectionchange", listener);
    expect(heard.map((e) => (e.target as HTMLElement).className)).toEqual(["gw-layer"]);
  });

  it("tells the kernel of a view change after the frame that shows it, a drag's moves as one", async () => {
    const { model, root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a"]) });
    const head = root.querySelector<HTMLInputElement>(".gw-head")!;
    const layer = root.querySelector<HTMLInputElement>(".gw-layer")!;
    const before = model.saved.length;
    head.value = "1";
    head.dispatchEvent(new Event("input"));
    layer.value = "0";
    layer.dispatchEvent(new Event("input"));
    head.value = "0";
    head.dispatchEvent(new Event("input"));
    expect(model.saved.length).toBe(before); // nothing sent before the frame is drawn
    await nextFrame();
    expect(root.dataset.drawn).toBe("head:0:0");
    await afterPaint();
    expect(model.saved.slice(before)).toEqual([{ head: 0, layer: 0 }]);
    // Typing is sent at once, and takes a pending view change with it.
    head.value = "1";
    head.dispatchEvent(new Event("input"));
    const box = root.querySelector<HTMLTextAreaElement>(".gw-text")!;
    box.value = "ab";
    box.dispatchEvent(new Event("input"));
    expect(model.saved.at(-1)).toEqual({ head: 1, text: "ab" });
    await afterPaint();
    expect(model.saved.at(-1)).toEqual({ head: 1, text: "ab" }); // sent once
  });

  it("shows weights beside the other column while a token is hovered", async () => {
    const { root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a", "b"]) });
    const source = root.querySelector<HTMLElement>('.gw-token[data-side="source"][data-index="1"]')!;
    source.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    await nextFrame();
    const weights = [...root.querySelectorAll('.gw-token[data-side="target"] .gw-weight')];
    expect(weights.map((w) => w.textContent)).toEqual(["0.250", "0.500", "0.250"]);
  });

  it("shows the loading step while the model loads, and only then", async () => {
    const { model, root } = await mount({
      text: "a", status: "loading", progress: "m: loading the tokenizer (step 1 of 3)",
    });
    const progress = root.querySelector<HTMLElement>(".gw-progress")!;
    expect(progress.textContent).toBe("m: loading the tokenizer (step 1 of 3)");
    expect(progress.hidden).toBe(false);
    model.kernelSets({ ...resultFor("a", ["<bos>", "a"]), progress: "" });
    await nextFrame();
    expect(progress.hidden).toBe(true);
  });

  it("offers the kernel's prompts, sends a choice, and waits for that prompt's result", async () => {
    const { model, root } = await mount({ text: "a", ...resultFor("a", ["<bos>", "a"]) });
    const select = root.querySelector<HTMLSelectElement>(".gw-prompt")!;
    expect([...select.options].map((o) => o.value)).toEqual(["none", "query"]);
    select.value = "query";
    select.dispatchEvent(new Event("change"));
    expect(model.saved.at(-1)).toEqual({ prompt: "query" });
    await nextFrame();
    expect(root.dataset.status).toBe("running"); // same text, but drawn for the old prompt
    model.kernelSets({
      ...resultFor("a", ["<bos>", "task", ":", " a"]),
      prompt_mask: [false, true, true, false],
      view_kinds: ["special", "prompt", "prompt", "text"],
      rendered_prompt: "query",
    });
    await nextFrame();
    expect(root.dataset.status).toBe("ready");
    const marked = [...root.querySelectorAll('.gw-token[data-side="source"]')].map((t) =>
      t.classList.contains("gw-in-prompt"),
    );
    expect(marked).toEqual([false, true, true, false]);
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
