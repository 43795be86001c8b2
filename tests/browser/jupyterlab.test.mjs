// @ts-check
/** End to end in a real JupyterLab: run a notebook, type into the widget, see it redraw. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  SCREENSHOTS, drawnTokens, notebookSession, runCell, typeAndWaitForRedraw,
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
