// @ts-check
/** The standalone HTML export opens offline in Chromium, with no kernel, and stays interactive. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import { join } from "node:path";
import { PYTHON, drawnTokens, launchBrowser, makeWorkspace, waitForView } from "./harness.mjs";

/** @type {ReturnType<typeof makeWorkspace>} */ let workspace;
/** @type {Awaited<ReturnType<typeof launchBrowser>>} */ let browser;
/** @type {import("playwright-core").Page} */ let page;
/** @type {string[]} */ const requests = [];

/**
 * Save a standalone page with Python: `lines` make the widget `w` on model `sys.argv[1]`.
 * @param {string} name
 * @param {string[]} lines
 */
function savePage(name, lines) {
  const html = join(workspace.dir, name);
  const code = ["import sys", "from gemma_widget import AttentionWidget", ...lines,
    "w.wait(timeout=120).save(sys.argv[2])"].join("\n");
  execFileSync(PYTHON, ["-c", code, workspace.modelDir, html], { stdio: ["ignore", "ignore", "pipe"] });
  return html;
}

before(async () => {
  workspace = makeWorkspace();
  const html = savePage("attention.html", [
    "w = AttentionWidget('Saved for later.', model=sys.argv[1], prompt='document', layer=1)",
  ]);
  browser = await launchBrowser();
  const context = await browser.newContext({ offline: true });
  page = await context.newPage();
  page.on("request", (request) => requests.push(request.url()));
  await page.goto(`file://${html}`);
});

after(async () => {
  await browser?.close();
  workspace?.cleanup();
});

test("the page draws the saved attention with no kernel and no network", async () => {
  const root = page.locator(".gw-root");
  await waitForView(page, "status", "ready", 30_000);
  assert.equal(await root.getAttribute("data-rendered-text"), "Saved for later.");
  const tokens = await drawnTokens(root);
  assert.deepEqual(tokens.slice(0, 2), ["<bos>", "title"]);
  assert.equal(await root.locator(".gw-text").getAttribute("readonly"), "");
  assert.equal(await root.locator(".gw-layer").inputValue(), "1");
  assert.deepEqual(requests.filter((url) => !url.startsWith("file:")), []);
});

test("layer and head switching and hovering still work", async () => {
  const root = page.locator(".gw-root");
  const canvas = root.locator("canvas.gw-lines");
  const pixels = () => canvas.evaluate((element) => {
    const c = /** @type {HTMLCanvasElement} */ (element);
    return Array.from(c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data ?? [])
      .join(",");
  });
  const before = await pixels();
  await root.locator(".gw-layer").fill("3");
  await page.waitForFunction(
    () => document.querySelector(".gw-slider-value")?.textContent?.startsWith("3"),
    null, { timeout: 10_000 },
  );
  await page.waitForTimeout(100);
  assert.notEqual(await pixels(), before, "layer 3 draws other lines than layer 1");
  await root.locator('.gw-token[data-side="source"][data-index="3"]').hover();
  const weights = await root.locator('.gw-token[data-side="target"] .gw-weight').allTextContents();
  const sum = weights.reduce((total, w) => total + Number(w), 0);
  assert.ok(Math.abs(sum - 1) < 0.01 * weights.length, `row sums to ${sum}`);
});

test("a page holding one layer whole still switches layers in the head view", async () => {
  // As for a long text: the page keeps layer 1 whole and the head view's window of every layer.
  const html = savePage("one-layer.html", [
    "import gemma_widget.widget as module",
    "module.STANDALONE_BYTE_BUDGET = 100",
    "w = AttentionWidget('Saved for later, one layer whole.', model=sys.argv[1], layer=1)",
  ]);
  const one = await browser.newPage();
  await one.goto(`file://${html}`);
  await waitForView(one, "drawn", "head:1:0", 30_000);
  const root = one.locator(".gw-root");
  assert.match((await root.locator(".gw-notice").textContent()) ?? "", /holds layer 1 whole/);
  await root.locator(".gw-layer").fill("3");
  await waitForView(one, "drawn", "head:3:0", 10_000); // from the window of every layer
  await root.locator('.gw-token[data-side="source"][data-index="2"]').hover();
  const weights = await root.locator('.gw-token[data-side="target"] .gw-weight').allTextContents();
  const sum = weights.reduce((total, w) => total + Number(w), 0);
  assert.ok(Math.abs(sum - 1) < 0.01 * weights.length, `row sums to ${sum}`);
  await root.locator('.gw-view-tab[data-view="matrix"]').click();
  await one.waitForTimeout(200);
  assert.equal(await root.getAttribute("data-drawn"), ""); // the page has no whole layer 3
  await one.close();
});
