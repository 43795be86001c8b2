// @ts-check
/**
 * notebooks/compare.ipynb in a real Voilà server and Chromium: typing into either side of a pair
 * changes the similarity; the causal side shows exactly zero right-to-left attention and follows
 * the text typed on either side. Offline, the same notebook runs on the labelled stand-in's real
 * weights (README screenshots).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { join } from "node:path";
import {
  ROOT, SCREENSHOTS, launchBrowser, makeWorkspace, startServer, typeAndWaitForRedraw,
} from "./harness.mjs";

const NOTEBOOK = join(ROOT, "notebooks/compare.ipynb");

/**
 * Serve compare.ipynb with Voilà from a workspace holding a model of `shape`, and open it.
 * @param {"tiny" | "none"} shape
 * @param {(modelDir: string) => Record<string, string>} env
 */
async function openCompare(shape, env) {
  const workspace = makeWorkspace(shape, { sentenceTransformers: true });
  const server = await startServer("voila", workspace.dir, NOTEBOOK, env(workspace.modelDir));
  const browser = await launchBrowser();
  const close = async () => {
    await browser.close();
    server.stop();
    workspace.cleanup();
  };
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${server.base}/?token=${server.token}`);
  return { page, close };
}

/**
 * Wait until panel `index` shows a similarity other than `not`; returns it.
 * @param {import("playwright-core").Page} page
 * @param {number} [index]
 * @param {string} [not]
 * @param {number} [timeout]
 */
async function similarityOf(page, index = 0, not = "", timeout = 120_000) {
  const handle = await page.waitForFunction(
    ([k, previous]) => {
      const value = document.querySelectorAll(".gw-compare")[k]?.getAttribute("data-similarity");
      return value && value !== previous ? value : null;
    },
    /** @type {const} */ ([index, not]),
    { timeout },
  );
  return Number(await handle.jsonValue());
}

/**
 * Wait until side `side` of panel `index` shows the embedding of `text`.
 * @param {import("playwright-core").Page} page
 * @param {number} index
 * @param {number} side
 * @param {string} text
 */
async function panelShows(page, index, side, text) {
  await page.waitForFunction(
    ([k, s, wanted]) =>
      document.querySelectorAll(".gw-compare")[k]?.querySelectorAll(".gw-compare-side")[s]
        ?.getAttribute("data-text") === wanted,
    /** @type {const} */ ([index, side, text]),
    { timeout: 60_000 },
  );
}

describe("compare notebook on a local model", () => {
  /** @type {Awaited<ReturnType<typeof openCompare>>} */ let served;
  /** @type {import("playwright-core").Page} */ let page;

  before(async () => {
    served = await openCompare("tiny", (model) => ({ GEMMA_WIDGET_MODEL: model }));
    page = served.page;
  });

  after(async () => {
    await served?.close();
  });

  test("typing into either side of the pair changes the similarity", async () => {
    const first = await similarityOf(page, 0);
    assert.ok(first >= -1 && first <= 1, `similarity ${first}`);
    const panel = page.locator(".gw-compare").first();
    assert.match((await panel.locator(".gw-pipeline").textContent()) ?? "", /mean pooling → Dense 48→64 → Dense 64→40 → normalise/);
    const [left, right] = [page.locator(".gw-root").nth(0), page.locator(".gw-root").nth(1)];

    const typedLeft = await typeAndWaitForRedraw(left, " Mars?");
    await panelShows(page, 0, 0, typedLeft.text);
    const second = await similarityOf(page, 0, String(first));
    assert.notEqual(second, first);

    const typedRight = await typeAndWaitForRedraw(right, " It is red.");
    await panelShows(page, 0, 1, typedRight.text);
    const third = await similarityOf(page, 0, String(second));
    assert.notEqual(third, second);
    assert.equal(await panel.getAttribute("data-similarity"), String(third));

    // One chip per token, coloured by its contribution; together they add up to the similarity.
    const scores = await panel.locator(".gw-compare-side").first().locator(".gw-chip")
      .evaluateAll((chips) => chips.map((chip) => Number(/** @type {HTMLElement} */ (chip).dataset.score)));
    const total = scores.reduce((sum, s) => sum + s, 0);
    assert.ok(Math.abs(total - third) < 1e-3, `contributions add to ${total}, similarity ${third}`);
  });

  test("the causal side shows exactly zero right-to-left attention and follows either side", async () => {
    await similarityOf(page, 1);
    const panel = page.locator(".gw-compare").nth(1);
    const shares = await panel.locator(".gw-right-to-left").evaluateAll((nodes) =>
      nodes.map((node) => Number(/** @type {HTMLElement} */ (node).dataset.share)));
    assert.ok(shares[0] > 0, `bidirectional share ${shares[0]}`);
    assert.equal(shares[1], 0);
    assert.match((await panel.locator(".gw-right-to-left").nth(1).textContent()) ?? "", /^attention to later tokens \(right to left\): 0 % /);
    const causalRoot = page.locator(".gw-root").nth(3);
    assert.equal(await causalRoot.locator(".gw-causal").isVisible(), true);

    const typed = await typeAndWaitForRedraw(causalRoot, " Deep water.");
    await panelShows(page, 1, 0, typed.text); // the bidirectional side read it too
    await panelShows(page, 1, 1, typed.text);
    assert.equal(await page.locator(".gw-root").nth(2).getAttribute("data-rendered-text"), typed.text);
  });
});

describe("compare notebook offline, on the stand-in's real weights", () => {
  /** @type {Awaited<ReturnType<typeof openCompare>>} */ let served;
  /** @type {import("playwright-core").Page} */ let page;

  before(async () => {
    served = await openCompare("none", () => ({}));
    page = served.page;
  });

  after(async () => {
    await served?.close();
  });

  test("labels the mean-pooling embedding and the stand-in (README screenshots)", async () => {
    await similarityOf(page, 0, "", 400_000); // the first use converts the stand-in
    await similarityOf(page, 1, "", 120_000);
    const pipeline = (await page.locator(".gw-compare .gw-pipeline").first().textContent()) ?? "";
    assert.match(pipeline, /mean pooling, normalised \(no Sentence Transformers modules next to the weights of .*stand-in/);
    const boxes = page.locator(".widget-vbox").filter({ has: page.locator(".gw-compare") });
    assert.equal(await boxes.count(), 2);
    await page.mouse.move(0, 0);
    await boxes.nth(0).screenshot({ path: join(SCREENSHOTS, "compare.png") });
    await boxes.nth(1).screenshot({ path: join(SCREENSHOTS, "compare-causal.png") });
  });
});
