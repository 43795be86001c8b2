// @ts-check
/** End to end in a real Voilà dashboard: the widget renders without code cells and redraws. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import {
  SCREENSHOTS, drawnTokens, launchBrowser, makeWorkspace, startServer, typeAndWaitForRedraw,
  writeNotebook,
} from "./harness.mjs";

/** @type {ReturnType<typeof makeWorkspace>} */ let workspace;
/** @type {Awaited<ReturnType<typeof startServer>>} */ let server;
/** @type {Awaited<ReturnType<typeof launchBrowser>>} */ let browser;
/** @type {import("playwright-core").Page} */ let page;

before(async () => {
  workspace = makeWorkspace();
  const notebook = join(workspace.dir, "dashboard.ipynb");
  writeNotebook(notebook, [
    "from gemma_widget import AttentionWidget\n" +
      `AttentionWidget("Voila renders widgets.", model=${JSON.stringify(workspace.modelDir)})`,
  ]);
  server = await startServer("voila", workspace.dir, notebook);
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  await page.goto(`${server.base}/?token=${server.token}`);
});

after(async () => {
  await browser?.close();
  server?.stop();
  workspace?.cleanup();
});

test("the dashboard shows the widget and no code", async () => {
  const root = page.locator(".gw-root");
  await page.waitForFunction(
    () => document.querySelector(".gw-root")?.getAttribute("data-status") === "ready",
    null,
    { timeout: 120_000 },
  );
  assert.equal(await root.getAttribute("data-rendered-text"), "Voila renders widgets.");
  assert.equal(await page.locator(".jp-InputArea, .cm-editor").count(), 0);
  assert.ok((await drawnTokens(root)).length > 3);
});

test("typing in the dashboard redraws for the typed text", async () => {
  const root = page.locator(".gw-root");
  const typed = await typeAndWaitForRedraw(root, " Live!");
  assert.equal(typed.text, "Voila renders widgets. Live!");
  assert.equal((await drawnTokens(root)).join("").replace("<bos>", ""), typed.text);
  console.log(`keystroke-to-redraw (tiny model, Voila): ${typed.ms.toFixed(0)} ms`);
  await root.screenshot({ path: join(SCREENSHOTS, "voila.png") });
});
