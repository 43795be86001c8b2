// @ts-check
/**
 * Typing at 20 keys a second for 10 s in a real JupyterLab + Chromium: how long after the last
 * key the final text is drawn, next to one forward pass of it, and whether any frame ever showed
 * an older text than one already drawn (a stale frame).
 *
 *   node benchmarks/typing_burst.mjs [tiny|embeddinggemma-shaped] [--tokens 32] [--rate 20]
 *     [--seconds 10] [--bursts 3] [--nodelay] [--model-dir DIR]
 *
 * Each burst starts from a ~N-token text and types `rate * seconds` keys at a steady rate (key
 * events dispatched in the page on a timer, as fast typing would). Prints one JSON line with,
 * per burst: settle time (last key -> frame showing the final text), frames drawn, stale frames;
 * then the medians and the bare forward pass for the final length (benchmarks/forward.py).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  PYTHON, ROOT, launchBrowser, makeWorkspace, openAndRunNotebook, startServer, waitForView,
  writeNotebook,
} from "../tests/browser/harness.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tokens: { type: "string", default: "32" },
    rate: { type: "string", default: "20" },
    seconds: { type: "string", default: "10" },
    bursts: { type: "string", default: "3" },
    nodelay: { type: "boolean", default: false },
    "model-dir": { type: "string" },
  },
});
const shape = positionals[0] ?? "embeddinggemma-shaped";
if (shape !== "tiny" && shape !== "embeddinggemma-shaped") {
  throw new Error(`unknown model shape ${shape}: use tiny or embeddinggemma-shaped`);
}
const [tokens, rate, seconds, bursts] = ["tokens", "rate", "seconds", "bursts"].map(
  (name) => Number(values[/** @type {"tokens"} */ (name)]),
);
const WORDS = "the quick brown fox jumps over a lazy dog while seven tired cats watch".split(" ");
const start = Array.from({ length: tokens - 1 }, (_, k) => WORDS[k % WORDS.length]).join(" ");

const workspace = makeWorkspace(values["model-dir"] ? "none" : shape);
const modelDir = values["model-dir"] ?? workspace.modelDir;
writeNotebook(join(workspace.dir, "burst.ipynb"), [
  "from gemma_widget import AttentionWidget\n" +
    `w = AttentionWidget(${JSON.stringify(start)}, model=${JSON.stringify(modelDir)})\nw`,
]);
const server = await startServer("lab", workspace.dir, undefined, {}, { nodelay: values.nodelay });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await openAndRunNotebook(page, server, "burst.ipynb");
  await waitForView(page, "status", "ready", 300_000);
  /** @type {Array<{ settle_ms: number, frames: number, stale_frames: number }>} */
  const results = [];
  for (let burst = 0; burst < bursts; burst++) {
    await page.locator(".gw-text").fill(start);
    await waitForView(page, "rendered-text", start, 120_000);
    await waitForView(page, "status", "ready", 120_000);
    results.push(await page.evaluate(([keys, interval, offset]) => new Promise((resolve) => {
      const root = /** @type {HTMLElement} */ (document.querySelector(".gw-root"));
      const area = /** @type {HTMLTextAreaElement} */ (document.querySelector(".gw-text"));
      const typed = [area.value];
      const drawn = /** @type {string[]} */ ([]);
      let lastKey = 0;
      const observer = new MutationObserver(() => {
        const text = root.dataset.renderedText ?? "";
        if (root.dataset.status !== "ready" || text === drawn.at(-1)) return;
        drawn.push(text);
        if (typed.length === keys + 1 && text === typed.at(-1)) {
          const settled = performance.now();
          observer.disconnect();
          // Stale: a frame showing a text typed before one already drawn.
          const order = drawn.map((t) => typed.indexOf(t));
          const stale = order.filter((k, i) => i > 0 && k < Math.max(...order.slice(0, i))).length;
          resolve({ settle_ms: settled - lastKey, frames: drawn.length, stale_frames: stale });
        }
      });
      observer.observe(root, { attributes: true, attributeFilter: ["data-rendered-text", "data-status"] });
      const letters = "abcdefghijklmnopqrstuvwxyz";
      let k = 0;
      const timer = setInterval(() => {
        // Another text in every burst, so no result comes from the kernel's cache.
        area.value += k % 6 === 5 ? " " : letters[(k + offset) % letters.length];
        area.dispatchEvent(new Event("input", { bubbles: true }));
        typed.push(area.value);
        lastKey = performance.now();
        if (++k === keys) clearInterval(timer);
      }, interval);
    }), /** @type {const} */ ([rate * seconds, 1000 / rate, 7 * burst + 1])));
  }
  const shown = Number(await page.locator(".gw-root").getAttribute("data-tokens"));
  const forward = JSON.parse(
    execFileSync(PYTHON, [join(ROOT, "benchmarks/forward.py"), shape, "--tokens", String(shown),
      "--model-dir", modelDir], { encoding: "utf8" }).trim().split("\n").at(-1) ?? "{}",
  );
  const settles = results.map((r) => r.settle_ms).sort((a, b) => a - b);
  const median = settles[Math.floor((settles.length - 1) / 2)];
  console.log(JSON.stringify({
    shape, nodelay: values.nodelay, rate, seconds, start_tokens: tokens, final_tokens: shown,
    bursts: results.map((r) => ({ ...r, settle_ms: Math.round(r.settle_ms) })),
    settle_ms_median: Math.round(median),
    bare_forward_ms_median: forward.bare_forward_ms_median,
    settle_over_forward: Math.round((median / forward.bare_forward_ms_median) * 100) / 100,
    stale_frames_total: results.reduce((sum, r) => sum + r.stale_frames, 0),
  }));
} finally {
  await browser.close();
  server.stop();
  workspace.cleanup();
}
