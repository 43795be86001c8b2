// @ts-check
/** End to end in a real JupyterLab: run a notebook, type into the widget, see it redraw. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  SCREENSHOTS, drawnTokens, notebookSession, runCell, typeAndWaitForRedraw, waitForView,
} from "./harness.mjs";

/** @type {Awaited<ReturnType<typeof notebookSession>>} */ let session;
/** @type {import("playwright-core").Page} */ let page;

before(async () => {
  session = await notebookSession("lab", (model) => [
    "from gemma_widget import AttentionWidget\n" +
      `w = AttentionWidget("The cat sat on the mat.", model=${JSON.stringify(model)})\n` +
      "w",
    "w.layer, w.head = 3, 1",
  ]);
  page = session.page;
});

after(async () => {
  await session?.close();
});

test("the widget appears in the notebook and draws the text's tokens", async () => {
  const root = page.locator(".gw-root").first();
  await root.waitFor({ timeout: 90_000 });
  await page.waitForFunction(
    () => document.querySelector(".gw-root")?.getAttribute("data-rendered-text") ===
      "The cat sat on the mat.",
    null,
    { timeout: 90_000 },
  );
  assert.deepEqual(await drawnTokens(root), [
    "<bos>", "The", " cat", " sat", " on", " the", " mat", ".",
  ]);
  // The second cell set layer and head from Python: the sliders follow.
  await page.waitForFunction(
    () => /** @type {HTMLInputElement | null} */ (document.querySelector(".gw-layer"))?.value === "3",
    null, { timeout: 30_000 },
  );
  assert.equal(await root.locator(".gw-head").inputValue(), "1");
  assert.equal(await root.locator(".gw-layer").getAttribute("max"), "3");
});

test("typing redraws the tokens for exactly the typed text", async () => {
  const root = page.locator(".gw-root").first();
  const first = await typeAndWaitForRedraw(root, " The dog barked");
  assert.equal(first.text, "The cat sat on the mat. The dog barked");
  const tokens = await drawnTokens(root);
  assert.ok(tokens.includes(" dog"), `tokens: ${JSON.stringify(tokens)}`);
  assert.equal(tokens.join("").replace("<bos>", ""), first.text);
  assert.equal(await root.locator('.gw-token[data-side="target"]').count(), tokens.length);

  const box = root.locator(".gw-text");
  await box.press("Backspace");
  await box.press("Backspace");
  const second = await typeAndWaitForRedraw(root, "!");
  assert.equal(second.text, "The cat sat on the mat. The dog bark!");
  assert.equal((await drawnTokens(root)).join("").replace("<bos>", ""), second.text);
  console.log(`keystroke-to-redraw (tiny model, JupyterLab): ${second.ms.toFixed(0)} ms`);
});

test("the canvas draws lines and hovering a token shows its weights", async () => {
  const root = page.locator(".gw-root").first();
  const painted = await root.locator("canvas.gw-lines").evaluate((canvas) => {
    const c = /** @type {HTMLCanvasElement} */ (canvas);
    const data = c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data ?? [];
    let count = 0;
    for (let k = 3; k < data.length; k += 4) if (data[k] > 0) count++;
    return count;
  });
  assert.ok(painted > 100, `expected drawn lines, found ${painted} painted pixels`);
  await root.locator('.gw-token[data-side="source"][data-index="2"]').hover();
  const weights = await root.locator('.gw-token[data-side="target"] .gw-weight').allTextContents();
  const sum = weights.reduce((total, w) => total + Number(w), 0);
  assert.ok(Math.abs(sum - 1) < 0.01 * weights.length, `row weights sum to ${sum}`);
  await page.mouse.move(0, 0);
  await root.screenshot({ path: join(SCREENSHOTS, "jupyterlab.png") });
});

test("dragging the layer slider is sent to the kernel", async () => {
  const root = page.locator(".gw-root").first();
  await root.locator(".gw-layer").fill("1");
  await runCell(page, "print('layer is', w.layer)");
  await page.getByText("layer is 1").waitFor({ timeout: 30_000 });
});

test("the SVG button downloads the view, and Python saves PNG and SVG through the view", async () => {
  const root = page.locator(".gw-root").first();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    root.locator(".gw-save-svg").click(),
  ]);
  const path = await download.path();
  const svg = readFileSync(path, "utf8");
  const tokens = await drawnTokens(root);
  assert.ok(svg.startsWith("<svg"), svg.slice(0, 40));
  assert.equal((svg.match(/class="gw-image-token"/g) ?? []).length, 2 * tokens.length);
  assert.ok(svg.includes("layer 1"), "the title names the layer on screen");

  await runCell(page, [
    "png = await w.save_image('fig.png', scale=2)",
    "svg = await w.save_image('fig.svg')",
    "print('PNG', open(png, 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n', 'SVG', open(svg).read().count('gw-image-token'))",
  ].join("\n"));
  await page.getByText(`PNG True SVG ${2 * tokens.length}`).waitFor({ timeout: 60_000 });
});

test("views switch in the browser and in Python; a pinned token shows its strip", async () => {
  const root = page.locator(".gw-root").first();
  const tokens = await drawnTokens(root);

  await root.locator('.gw-view-tab[data-view="matrix"]').click();
  await waitForView(page, "view", "matrix");
  assert.equal(await root.locator(".gw-matrix-row-label").count(), tokens.length);
  const canvas = root.locator("canvas.gw-matrix-canvas");
  assert.equal(await canvas.getAttribute("data-n"), String(tokens.length));
  const box = await canvas.boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width * 0.9, box.y + 2); // row 0, a late column
  const readout = (await root.locator(".gw-matrix-readout").textContent()) ?? "";
  assert.match(readout, /^<bos> \[0\] → .+ \[\d+\]: 0\.\d{4} \(layer 1, head 1\)$/);
  await root.locator(".gw-scale").selectOption("log");
  await runCell(page, "print('view', w.view, 'scale', w.scale)");
  await page.getByText("view matrix scale log").waitFor({ timeout: 30_000 });

  await root.locator('.gw-view-tab[data-view="model"]').click();
  await waitForView(page, "view", "model");
  assert.equal(await root.locator(".gw-thumb").count(), 4 * 3);
  const layerLabels = await root.locator(".gw-model-layer").allTextContents();
  assert.deepEqual(layerLabels, [
    "layer 0 sliding window", "layer 1 sliding window", "layer 2 sliding window", "layer 3 full",
  ]);
  assert.match(
    (await root.locator(".gw-model-note").textContent()) ?? "",
    /3 query heads of each layer share 1 key\/value head/,
  );
  await root.locator(".gw-statistic").selectOption("right_to_left");
  const captions = await root.locator(".gw-thumb-stat").allTextContents();
  assert.ok(captions.every((c) => Number(c) > 0), `right-to-left shares: ${captions}`);
  await root.locator('.gw-thumb[data-layer="2"][data-head="1"]').click();
  await waitForView(page, "view", "head");
  assert.equal(await root.locator(".gw-layer").inputValue(), "2");

  await root.locator('.gw-token[data-side="source"][data-index="2"]').click();
  await root.locator(".gw-strip:not([hidden])").waitFor({ timeout: 10_000 });
  assert.equal(await root.locator(".gw-token.gw-pinned").count(), 2);
  await runCell(page, "print('python sees', w.view, w.layer, w.head, w.selected_token, w.statistic)");
  await page.getByText("python sees head 2 1 2 right_to_left").waitFor({ timeout: 30_000 });

  // From Python: words, without <bos>; the front end redraws and marks the renormalisation.
  await runCell(page, "w.merge_words = True\nw.hide_special = True");
  await page.waitForFunction(
    () => document.querySelector('.gw-token[data-side="source"] .gw-token-text')?.textContent === "The",
    null, { timeout: 30_000 },
  );
  assert.ok(await root.locator(".gw-renormalised").isVisible());
  assert.ok(await root.locator(".gw-strip").isVisible(), "row 2 still exists: still pinned");
  // Typing keeps working with the options on.
  const typed = await typeAndWaitForRedraw(root, " Yes.");
  const words = await drawnTokens(root);
  assert.equal(words.at(-1), " Yes.");
  assert.equal(words.join(""), typed.text);
  await runCell(page, "w.merge_words = False\nw.hide_special = False\nw.selected_token = -1");
  await page.waitForFunction(
    () => document.querySelector('.gw-token[data-side="source"] .gw-token-text')?.textContent === "<bos>",
    null, { timeout: 30_000 },
  );
});

test("a very long text: head-view layer switches draw from the window of every layer", async () => {
  const root = page.locator(".gw-root").first();
  await runCell(page, "w.text = ' '.join(['word'] * 1300)\nw.layer = 0");
  await page.waitForFunction(
    () => Number(document.querySelector(".gw-root")?.getAttribute("data-tokens")) === 1301,
    null, { timeout: 60_000 },
  );
  // 0.3 s after the result the kernel sends rows 0-127 of every layer; then no whole layer
  // needs to travel for the head view (the tiny model's layer is 9.8 MB at this length).
  await runCell(page, "import time\ntime.sleep(1)\nprint('window', w._window_meta.get('start'), w._window_meta.get('rows'))");
  await page.getByText("window 0 128").waitFor({ timeout: 30_000 });
  for (const layer of [2, 3, 1]) {
    await root.locator(".gw-layer").fill(String(layer));
    await waitForView(page, "drawn", `head:${layer}:1`, 10_000);
  }
  await runCell(page, "print('whole layers sent', w._attention_meta['layers'])");
  await page.getByText("whole layers sent [0, 1]").waitFor({ timeout: 30_000 });
  // The matrix view needs every row of the layer on screen: the kernel sends it.
  await root.locator('.gw-view-tab[data-view="matrix"]').click();
  await waitForView(page, "drawn", "matrix:1:1", 30_000);
  await root.locator('.gw-view-tab[data-view="head"]').click();
});
