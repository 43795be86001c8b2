// @ts-check
/** End to end in Jupyter Notebook 7: the widget renders, follows typing and Python. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  drawnTokens, notebookSession, runCell, typeAndWaitForRedraw, waitForView,
} from "./harness.mjs";

/** @type {Awaited<ReturnType<typeof notebookSession>>} */ let session;
/** @type {import("playwright-core").Page} */ let page;

before(async () => {
  session = await notebookSession("notebook", (model) => [
    "from gemma_widget import AttentionWidget\n" +
      `w = AttentionWidget("Notebook seven.", model=${JSON.stringify(model)})\nw`,
  ]);
  page = session.page;
});

after(async () => {
  await session?.close();
});

test("the widget renders in Notebook 7 and redraws as the user types", async () => {
  const root = page.locator(".gw-root").first();
  await waitForView(page, "status", "ready", 90_000);
  assert.equal(await root.getAttribute("data-rendered-text"), "Notebook seven.");
  const typed = await typeAndWaitForRedraw(root, " Typed here.");
  assert.equal((await drawnTokens(root)).join("").replace("<bos>", ""), typed.text);
});

test("Python sets the layer and the slider follows", async () => {
  await runCell(page, "w.layer = 2");
  await page.waitForFunction(
    () => /** @type {HTMLInputElement | null} */ (document.querySelector(".gw-layer"))?.value === "2",
    null, { timeout: 30_000 },
  );
});
