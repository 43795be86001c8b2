// @ts-check
/**
 * Hardening, end to end in JupyterLab: hostile text never runs, fast typing never shows a stale
 * frame, one widget shown twice stays in sync, a long-running or interrupted cell does not freeze
 * the widget, and a restarted kernel is reported in it without losing the user's text.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  labCommand, notebookSession, runCell, waitForKernel, waitForView,
} from "./harness.mjs";

/** @type {Awaited<ReturnType<typeof notebookSession>>} */ let session;
/** @type {import("playwright-core").Page} */ let page;
/** @type {string} */ let modelDir;
/** @type {string[]} */ const dialogs = [];

const PAYLOADS = [
  "<img src=x onerror=\"window.__pwned='img'\">",
  "<script>window.__pwned='script'</script>",
  "\"><svg onload=\"window.__pwned='svg'\">",
];

/**
 * Wait until view `index` shows exactly `text` and is ready.
 * @param {string} text
 */
async function waitForRendered(text, index = 0) {
  await page.waitForFunction(
    ([wanted, k]) => {
      const root = document.querySelectorAll(".gw-root")[/** @type {number} */ (k)];
      return root instanceof HTMLElement && root.dataset.renderedText === wanted &&
        root.dataset.status === "ready";
    },
    /** @type {const} */ ([text, index]),
    { timeout: 60_000 },
  );
}

before(async () => {
  session = await notebookSession("lab", (model) => [
    "from gemma_widget import AttentionWidget\n" +
      `w = AttentionWidget("start", model=${JSON.stringify(model)})\nw`,
    "display(w)  # the same widget, a second view",
  ], { width: 1100, height: 1400 });
  page = session.page;
  modelDir = session.workspace.modelDir;
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.locator(".gw-root").nth(1).waitFor({ timeout: 90_000 });
  await waitForRendered("start", 0);
  await waitForRendered("start", 1);
});

after(async () => {
  await session?.close();
});

test("markup typed, set from Python or used as a model name stays text", async () => {
  const first = page.locator(".gw-root").first();
  const box = first.locator(".gw-text");
  await box.fill("");
  await box.pressSequentially(PAYLOADS[0], { delay: 5 });
  await waitForRendered(PAYLOADS[0]);
  await runCell(page, `w.text = ${JSON.stringify(PAYLOADS[1] + " " + PAYLOADS[2])}`);
  await waitForRendered(PAYLOADS[1] + " " + PAYLOADS[2]);
  const tokens = (await first.locator('.gw-token[data-side="source"]').allTextContents()).join("");
  assert.ok(tokens.includes("script"), tokens);

  await runCell(page, `w.model = ${JSON.stringify(PAYLOADS[0])}`);
  await waitForView(page, "status", "error", 60_000);
  const error = await first.locator(".gw-error").textContent();
  assert.ok(error?.includes(PAYLOADS[0]), error ?? "");

  const injected = await page.evaluate(() => ({
    pwned: /** @type {any} */ (window).__pwned ?? null,
    elements: [...document.querySelectorAll(".gw-root")].flatMap((root) =>
      [...root.querySelectorAll("img, script, svg, iframe, object")].map((e) => e.tagName)),
  }));
  assert.deepEqual(injected, { pwned: null, elements: [] });
  assert.deepEqual(dialogs, []);

  await runCell(page, `w.model = ${JSON.stringify(modelDir)}`);
  await waitForRendered(PAYLOADS[1] + " " + PAYLOADS[2]);
});

test("fast typing for ten seconds never draws a stale frame and settles on the box", async () => {
  const first = page.locator(".gw-root").first();
  await page.evaluate(() => {
    const root = /** @type {HTMLElement} */ (document.querySelector(".gw-root"));
    const box = /** @type {HTMLTextAreaElement} */ (root.querySelector(".gw-text"));
    /** @type {Array<{ drawn: string, box: string }>} */
    const frames = [];
    /** @type {any} */ (window).__frames = frames;
    new MutationObserver(() => frames.push({ drawn: root.dataset.renderedText ?? "", box: box.value }))
      .observe(root, { attributes: true, attributeFilter: ["data-rendered-text"] });
  });
  const box = first.locator(".gw-text");
  await box.fill("");
  const keys = "the quick brown fox jumps over the lazy dog ".repeat(5).slice(0, 200);
  const started = Date.now();
  await box.pressSequentially(keys, { delay: 50 }); // 20 keys a second
  const typedFor = Date.now() - started;
  await waitForRendered(keys);
  const frames = /** @type {Array<{ drawn: string, box: string }>} */ (
    await page.evaluate(() => /** @type {any} */ (window).__frames)
  );
  assert.ok(typedFor >= 9_000, `typing took ${typedFor} ms`);
  // How many frames appear depends on timing (a result is drawn only if no key came after its
  // text); that none of them is stale must hold whatever the count.
  assert.ok(frames.length >= 1, "the final text was drawn");
  const stale = frames.filter((frame) => frame.drawn !== frame.box);
  assert.deepEqual(stale, []);
  for (const frame of frames) assert.ok(keys.startsWith(frame.drawn), frame.drawn);
  assert.equal(frames.at(-1)?.drawn, keys);
  console.log(`fast typing: ${keys.length} keys in ${typedFor} ms, ${frames.length} frames drawn`);
});

test("the second view of the same widget follows the first", async () => {
  const text = await page.locator(".gw-root").first().locator(".gw-text").inputValue();
  await waitForRendered(text, 1);
  assert.equal(await page.locator(".gw-root").nth(1).locator(".gw-text").inputValue(), text);
});

test("a long-running cell does not freeze the widget, nor does interrupting it", async () => {
  // ipykernel 7 handles comm messages while a cell runs; the widget applies its results on the
  // thread that received them, so it stays live instead of waiting for the cell to end.
  await runCell(page, "import time; time.sleep(60)");
  await page.waitForFunction(
    () => document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") === "busy",
    null, { timeout: 10_000 },
  );
  const first = page.locator(".gw-root").first();
  const box = first.locator(".gw-text");
  await box.click();
  await box.press("End");
  await box.pressSequentially(" busy", { delay: 20 });
  await waitForRendered(await box.inputValue());
  assert.equal(await first.getAttribute("data-kernel"), "alive");
  assert.equal(
    await page.locator(".jp-Notebook-ExecutionIndicator").getAttribute("data-status"), "busy",
  );
  await labCommand(page, "notebook:interrupt-kernel");
  await page.getByText("KeyboardInterrupt").first().waitFor({ timeout: 30_000 });
  await box.pressSequentially(" interrupted", { delay: 20 });
  await waitForRendered(await box.inputValue());
});

test("after a kernel restart the widget says so and keeps the typed text", async () => {
  await labCommand(page, "notebook:restart-kernel");
  await page.locator(".jp-Dialog .jp-mod-accept").click({ timeout: 10_000 });
  await waitForKernel(page, "status", "idle");
  const first = page.locator(".gw-root").first();
  const box = first.locator(".gw-text");
  await box.click();
  await box.press("End");
  await box.pressSequentially(" after restart", { delay: 20 });
  const wanted = await box.inputValue();
  await waitForView(page, "kernel", "silent", 30_000);
  assert.ok(await first.locator(".gw-silent").isVisible());
  assert.equal(await box.inputValue(), wanted);
});
