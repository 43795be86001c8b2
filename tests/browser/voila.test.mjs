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
  typeAndWaitForRedraw,
} from "./harness.mjs";

const DASHBOARD = join(ROOT, "notebooks/dashboard.ipynb");

/** @param {import("playwright-core").Page} page */
async function waitUntilReady(page, timeout = 120_000) {
  await page.waitForFunction(
    () => document.querySelector(".gw-root")?.getAttribute("data-status") === "ready",
    null,
    { timeout },
  );
}

describe("dashboard on a local model", () => {
  /** @type {ReturnType<typeof makeWorkspace>} */ let workspace;
  /** @type {Awaited<ReturnType<typeof startServer>>} */ let server;
  /** @type {Awaited<ReturnType<typeof launchBrowser>>} */ let browser;
  /** @type {import("playwright-core").Page} */ let page;

  before(async () => {
    workspace = makeWorkspace();
    server = await startServer("voila", workspace.dir, DASHBOARD, {
      GEMMA_WIDGET_MODEL: workspace.modelDir,
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(`${server.base}/?token=${server.token}`);
  });

  after(async () => {
    await browser?.close();
    server?.stop();
    workspace?.cleanup();
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
  /** @type {Awaited<ReturnType<typeof startServer>>} */ let server;
  /** @type {Awaited<ReturnType<typeof launchBrowser>>} */ let browser;
  /** @type {import("playwright-core").Page} */ let page;
  /** @type {string} */ let dir;

  before(async () => {
    dir = makeWorkspace("none").dir;
    server = await startServer("voila", dir, DASHBOARD); // HF_HUB_OFFLINE=1, default model
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(`${server.base}/?token=${server.token}`);
  });

  after(async () => {
    await browser?.close();
    server?.stop();
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
});
