// @ts-check
/**
 * Layer, head and view switch time in a real JupyterLab + Chromium, at several text lengths.
 *
 *   node benchmarks/switch_time.mjs [tiny|embeddinggemma-shaped] [--tokens 32,256,2048]
 *     [--switches 20] [--nodelay] [--model-dir DIR]
 *
 * For each length: the widget shows a text of about that many tokens; after typing settles
 * (every layer then reaches the page for texts up to gemma_widget/wire.py's background budget),
 * each switch is timed from the input event to the animation frame that draws it (the view's
 * `data-drawn`, e.g. "head:5:0"), and to the end of that frame's paint and commit (a task
 * posted from the frame runs only after them: "painted", what the user sees). Prints one JSON
 * line per length with medians, p95 and the slowest switch in ms, painted and drawn (at 2048
 * tokens the first matrix view of a layer waits for that layer), and from the start of the
 * drawing frame to its paint (`frame_to_paint`: painted less the wait for the browser's next
 * frame, which a switch started right after the last one's paint always has).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  launchBrowser, makeWorkspace, openAndRunNotebook, startServer, waitForView, writeNotebook,
} from "../tests/browser/harness.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tokens: { type: "string", default: "32,256,2048" },
    switches: { type: "string", default: "20" },
    nodelay: { type: "boolean", default: false },
    "model-dir": { type: "string" },
  },
});
const shape = positionals[0] ?? "embeddinggemma-shaped";
if (shape !== "tiny" && shape !== "embeddinggemma-shaped") {
  throw new Error(`unknown model shape ${shape}: use tiny or embeddinggemma-shaped`);
}
const switches = Number(values.switches);
const WORDS = "the quick brown fox jumps over a lazy dog while seven tired cats watch".split(" ");

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
/** @param {number[]} xs */
const summary = (xs) => ({
  median: Math.round(quantile(xs, 0.5) * 10) / 10,
  p95: Math.round(quantile(xs, 0.95) * 10) / 10,
  max: Math.round(Math.max(...xs) * 10) / 10,
});

const workspace = makeWorkspace(values["model-dir"] ? "none" : shape);
const modelDir = values["model-dir"] ?? workspace.modelDir;
const lengths = String(values.tokens).split(",").map(Number);
writeNotebook(join(workspace.dir, "switch.ipynb"), [
  "from gemma_widget import AttentionWidget\n" +
    `w = AttentionWidget("", model=${JSON.stringify(modelDir)})\nw`,
]);
const server = await startServer("lab", workspace.dir, undefined, {}, { nodelay: values.nodelay });
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await openAndRunNotebook(page, server, "switch.ipynb");
  await waitForView(page, "status", "ready", 300_000);
  for (const tokens of lengths) {
    const text = Array.from({ length: tokens - 1 }, (_, k) => WORDS[k % WORDS.length]).join(" ");
    await page.locator(".gw-text").fill(text);
    await waitForView(page, "rendered-text", text, 600_000);
    await waitForView(page, "status", "ready", 600_000);
    await page.locator('.gw-view-tab[data-view="head"]').click(); // each length starts alike
    await page.waitForTimeout(1500); // typing has paused: background layers arrive
    const numLayers = Number(await page.locator(".gw-layer").getAttribute("max")) + 1;
    const numHeads = Number(await page.locator(".gw-head").getAttribute("max")) + 1;
    /** @type {Record<string, number[]>} */
    const samples = { layer: [], head: [], view: [] };
    /** @type {Record<string, number[]>} */
    const drawnSamples = { layer: [], head: [], view: [] };
    /** @type {Record<string, number[]>} */
    const frameSamples = { layer: [], head: [], view: [] };
    /** @param {"layer" | "head" | "view"} kind @param {number[]} times */
    const keep = (kind, [drawn, painted, inFrame]) => {
      drawnSamples[kind].push(drawn);
      samples[kind].push(painted);
      frameSamples[kind].push(inFrame);
    };
    const views = ["matrix", "model", "head"];
    for (let k = 0; k < switches; k++) {
      const current = Number(await page.locator(".gw-head").inputValue());
      const layer = (k + 1) % numLayers;
      const head = (current + 1) % numHeads;
      keep("layer", await timeSwitch(page, "layer", layer, `head:${layer}:${current}`));
      keep("head", await timeSwitch(page, "head", head, `head:${layer}:${head}`));
    }
    const layer = Number(await page.locator(".gw-layer").inputValue());
    const head = Number(await page.locator(".gw-head").inputValue());
    for (let k = 0; k < switches; k++) {
      const view = views[k % views.length];
      const expected = view === "model" ? "model" : `${view}:${layer}:${head}`;
      keep("view", await timeSwitch(page, "view", view, expected));
    }
    const shown = Number(await page.locator(".gw-root").getAttribute("data-tokens"));
    console.log(JSON.stringify({
      shape, nodelay: values.nodelay, tokens: shown, switches,
      layer_switch_ms: summary(samples.layer),
      head_switch_ms: summary(samples.head),
      view_switch_ms: summary(samples.view),
      drawn_only: {
        layer: summary(drawnSamples.layer),
        head: summary(drawnSamples.head),
        view: summary(drawnSamples.view),
      },
      frame_to_paint: {
        layer: summary(frameSamples.layer),
        head: summary(frameSamples.head),
        view: summary(frameSamples.view),
      },
    }));
  }
} finally {
  await browser.close();
  server.stop();
  workspace.cleanup();
}

/**
 * Switch `what` to `value` as a user would, and time it to the frame that draws `expected`.
 * @param {import("playwright-core").Page} page
 * @param {"layer" | "head" | "view"} what
 * @param {number | string} value
 * @param {string} expected the view's data-drawn once drawn
 */
async function timeSwitch(page, what, value, expected) {
  return page.evaluate(
    ([kind, wanted, drawn]) => new Promise((resolve, reject) => {
      const root = /** @type {HTMLElement} */ (document.querySelector(".gw-root"));
      const timeout = setTimeout(() => reject(new Error(`${kind} ${wanted} never drew ${drawn}`)), 60_000);
      let frameStart = NaN;
      const done = () => {
        clearTimeout(timeout);
        observer.disconnect();
        const drawnMs = performance.now() - start;
        // Posted from inside the drawing frame, this runs once its paint and commit are done.
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          const end = performance.now();
          resolve([drawnMs, end - start, end - (frameStart || start)]);
        };
        channel.port2.postMessage(null);
      };
      const observer = new MutationObserver(() => {
        if (root.dataset.drawn === drawn) done();
      });
      observer.observe(root, { attributes: true, attributeFilter: ["data-drawn"] });
      const start = performance.now();
      // Asked for before the widget asks, so it runs first in the frame that draws the switch.
      requestAnimationFrame(() => { frameStart = performance.now(); });
      if (kind === "view") {
        /** @type {HTMLButtonElement} */ (root.querySelector(`.gw-view-tab[data-view="${wanted}"]`)).click();
      } else {
        const input = /** @type {HTMLInputElement} */ (root.querySelector(`.gw-${kind}`));
        input.value = String(wanted);
        input.dispatchEvent(new Event("input", { bubbles: true }));
      }
      if (root.dataset.drawn === drawn) done();
    }),
    /** @type {const} */ ([what, value, expected]),
  );
}
