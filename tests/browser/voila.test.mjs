// @ts-check
/**
 * The dashboard (notebooks/dashboard.ipynb) in a real Voilà server: no code on the page, the
 * widget renders, follows the prompt picker and typing; offline it explains why EmbeddingGemma
 * is missing and shows the labelled stand-in.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import {
  ROOT, SCREENSHOTS, drawnTokens, launchBrowser, makeWorkspace, startServer,
  typeAndWaitForRedraw, waitForView,
} from "./harness.mjs";

const DASHBOARD = join(ROOT, "notebooks/dashboard.ipynb");

/** @param {import("playwright-core").Page} page */
const waitUntilReady = (page, timeout = 120_000) => waitForView(page, "status", "ready", timeout);

/**
 * Serve the dashboard with Voilà from a workspace holding a model of `shape`, and open it.
 * @param {"tiny" | "none"} shape
 * @param {(modelDir: string) => Record<string, string>} env for the server and its kernel
 * @param {{ nodelay?: boolean }} [options] serve as scripts/demo.sh does
 */
async function openDashboard(shape, env, options = {}) {
  const workspace = makeWorkspace(shape);
  const server = await startServer("voila", workspace.dir, DASHBOARD, env(workspace.modelDir), options);
  const browser = await launchBrowser();
  const close = async () => {
    await browser.close();
    server.stop();
    workspace.cleanup();
  };
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  await page.goto(`${server.base}/?token=${server.token}`);
  return { page, close };
}

describe("dashboard on a local model", () => {
  /** @type {Awaited<ReturnType<typeof openDashboard>>} */ let dashboard;
  /** @type {import("playwright-core").Page} */ let page;

  before(async () => {
    // Served the way scripts/demo.sh serves it: through gemma_widget.nodelay.
    dashboard = await openDashboard("tiny", (model) => ({ GEMMA_WIDGET_MODEL: model }), {
      nodelay: true,
    });
    page = dashboard.page;
  });

  after(async () => {
    await dashboard?.close();
  });

  test("shows the title and the widget, and no code", async () => {
    await waitUntilReady(page);
    await page.getByText("How EmbeddingGemma reads your text").waitFor();
    assert.equal(await page.locator(".jp-InputArea-editor, .cm-editor").count(), 0);
    assert.ok(!(await page.locator("body").innerText()).includes("GEMMA_WIDGET_MODEL"));
    const root = page.locator(".gw-root");
    assert.equal(await root.locator(".gw-prompt").inputValue(), "query");
    const tokens = await drawnTokens(root);
    assert.deepEqual(tokens.slice(0, 3), ["<bos>", "task", ":"]);
    assert.ok(
      (await root.locator('.gw-token.gw-in-prompt[data-side="source"]').count()) >= 6,
    );
  });

  test("the prompt picker and typing redraw for what was chosen and typed", async () => {
    const root = page.locator(".gw-root");
    await root.locator(".gw-prompt").selectOption("document");
    await page.waitForFunction(
      () => document.querySelectorAll('.gw-token[data-side="source"]')[1]?.textContent === "title",
      null,
      { timeout: 60_000 },
    );
    await waitUntilReady(page);
    const typed = await typeAndWaitForRedraw(root, " Live!");
    const tokens = await drawnTokens(root);
    assert.ok(tokens.join("").endsWith(typed.text), tokens.join(""));
    console.log(`keystroke-to-redraw (tiny model, Voila): ${typed.ms.toFixed(0)} ms`);
    await root.screenshot({ path: join(SCREENSHOTS, "voila.png") });
  });
});

describe("dashboard offline, where EmbeddingGemma cannot be had", () => {
  /** @type {Awaited<ReturnType<typeof openDashboard>>} */ let dashboard;
  /** @type {import("playwright-core").Page} */ let page;

  before(async () => {
    // HF_HUB_OFFLINE=1 (set by the harness) and the dashboard's default model.
    dashboard = await openDashboard("none", () => ({}));
    page = dashboard.page;
  });

  after(async () => {
    await dashboard?.close();
  });

  test("says why, shows how to fix it, and runs on the labelled stand-in", async () => {
    // First use converts the stand-in into ~/.cache/gemma-widget (about a minute).
    await waitUntilReady(page, 400_000);
    const root = page.locator(".gw-root");
    const notice = (await root.locator(".gw-notice").textContent()) ?? "";
    assert.match(notice, /Cannot load google\/embeddinggemma-300m/);
    assert.match(notice, /Fix: /);
    const info = (await root.locator(".gw-info").textContent()) ?? "";
    assert.match(info, /offline stand-in, not EmbeddingGemma/);
    assert.equal(await root.locator(".gw-layer").getAttribute("max"), "17"); // 18 layers
    await root.screenshot({ path: join(SCREENSHOTS, "voila-offline-standin.png") });
  });

  test("real weights in every view: matrix, model grid, pinned token (README screenshots)", async () => {
    const root = page.locator(".gw-root");
    await root.locator(".gw-layer").fill("5"); // a full-attention layer of Gemma 3 270M
    await root.locator('.gw-view-tab[data-view="matrix"]').click();
    await root.locator(".gw-scale").selectOption("log");
    await waitForView(page, "view", "matrix");
    assert.ok((await root.locator(".gw-matrix-row-label").count()) > 10);
    await root.screenshot({ path: join(SCREENSHOTS, "matrix.png") });

    await root.locator('.gw-view-tab[data-view="model"]').click();
    await waitForView(page, "view", "model");
    assert.equal(await root.locator(".gw-thumb").count(), 18 * 4);
    // Gemma 3 270M: five sliding-window layers, then one full, repeated.
    const types = await root.locator(".gw-model-layer .gw-layer-type").allTextContents();
    assert.deepEqual(types.slice(0, 6), [...Array(5).fill("sliding window"), "full"]);
    await root.locator(".gw-statistic").selectOption("sink");
    await root.screenshot({ path: join(SCREENSHOTS, "model.png") });

    await root.locator('.gw-thumb[data-layer="5"][data-head="0"]').click();
    await waitForView(page, "view", "head");
    const it = (await drawnTokens(root)).indexOf(" it");
    assert.ok(it > 0);
    await root.locator(`.gw-token[data-side="source"][data-index="${it}"]`).click();
    await root.locator(".gw-strip:not([hidden])").waitFor();
    await page.mouse.move(0, 0);
    await root.screenshot({ path: join(SCREENSHOTS, "pinned.png") });
  });
});
