// @ts-check
/**
 * Keystroke-to-redraw in a real JupyterLab with a real kernel, in Debian's Chromium.
 *
 *   node benchmarks/keystroke_redraw.mjs [tiny|embeddinggemma-shaped] [--keys 15] [--tokens 32]
 *     [--nodelay] [--model-dir DIR]
 *
 * --nodelay serves with gemma_widget.nodelay (as scripts/demo.sh does); --model-dir reuses a
 * model folder built by tests/model_factory.py instead of building one.
 *
 * Opens a notebook with the widget on a ~N-token text, then types one key at a time and
 * measures from the key press to the animation frame that shows that exact text
 * (data-rendered-text matches and status is ready), when that frame's paint and commit are done
 * (painted), and when the result reached the page. Prints JSON with the median and p90 in ms, next to the bare
 * forward pass for the same length (benchmarks/forward.py), and their ratio.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  PYTHON, ROOT, launchBrowser, openAndRunNotebook, makeWorkspace, startServer, waitForView,
  writeNotebook,
} from "../tests/browser/harness.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    keys: { type: "string", default: "15" },
    tokens: { type: "string", default: "32" },
    nodelay: { type: "boolean", default: false },
    "model-dir": { type: "string" },
  },
});
const shape = positionals[0] ?? "tiny";
if (shape !== "tiny" && shape !== "embeddinggemma-shaped") {
  throw new Error(`unknown model shape ${shape}: use tiny or embeddinggemma-shaped`);
}
const keys = Number(values.keys);
const tokens = Number(values.tokens);

const WORDS = "the quick brown fox jumps over a lazy dog while seven tired cats watch".split(" ");
const text = Array.from({ length: tokens - 2 }, (_, k) => WORDS[k % WORDS.length]).join(" ");

/** @param {number[]} xs @param {number} q */
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];

const workspace = makeWorkspace(values["model-dir"] ? "none" : shape);
const modelDir = values["model-dir"] ?? workspace.modelDir;
writeNotebook(join(workspace.dir, "bench.ipynb"), [
  "from gemma_widget import AttentionWidget\n" +
    `w = AttentionWidget(${JSON.stringify(text)}, model=${JSON.stringify(modelDir)})\nw`,
]);
const server = await startServer("lab", workspace.dir, undefined, {}, { nodelay: values.nodelay });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  // Where the time goes: when each kernel message carrying a result reaches the page's websocket.
  await page.addInitScript(() => {
    const arrivals = /** @type {number[]} */ ([]);
    /** @type {any} */ (globalThis).__gwArrivals = arrivals;
    const marker = new TextEncoder().encode("rendered_text");
    /** @param {Uint8Array} bytes */
    const carries = (bytes) => {
      outer: for (let k = 0; k + marker.length <= bytes.length; k++) {
        for (let m = 0; m < marker.length; m++) if (bytes[k + m] !== marker[m]) continue outer;
        return true;
      }
      return false;
    };
    const Native = WebSocket;
    // @ts-ignore: a subclass that watches incoming messages, for this measurement only
    globalThis.WebSocket = class extends Native {
      /** @param {ConstructorParameters<typeof WebSocket>} args */
      constructor(...args) {
        super(...args);
        this.addEventListener("message", (event) => {
          const now = performance.now();
          const data = event.data;
          if (typeof data === "string" ? data.includes("rendered_text") : data instanceof ArrayBuffer && carries(new Uint8Array(data))) {
            arrivals.push(now);
          }
        });
      }
    };
  });
  await openAndRunNotebook(page, server, "bench.ipynb");
  await waitForView(page, "status", "ready", 300_000);
  const box = page.locator(".gw-text");
  await box.click();
  await box.press("End");
  /** @type {number[]} */
  const samples = [];
  /** @type {number[]} */
  const arrivalSamples = [];
  /** @type {number[]} */
  const paintedSamples = [];
  const letters = "abcdefghijklmnopqrstuvwxyz";
  for (let k = 0; k < keys + 2; k++) {
    // Measured in the page: from the keydown event to the frame that shows the new text.
    const ms = await page.evaluate(
      (key) => new Promise((resolve) => {
        const root = /** @type {HTMLElement} */ (document.querySelector(".gw-root"));
        const area = /** @type {HTMLTextAreaElement} */ (document.querySelector(".gw-text"));
        const arrivals = /** @type {number[]} */ (/** @type {any} */ (globalThis).__gwArrivals);
        const start = performance.now();
        area.value += key;
        area.dispatchEvent(new Event("input", { bubbles: true }));
        const wanted = area.value;
        // The view sets these attributes in the animation frame that draws the text, so the
        // moment they change is the moment that frame is produced.
        const observer = new MutationObserver(() => {
          if (root.dataset.renderedText !== wanted || root.dataset.status !== "ready") return;
          const drawn = performance.now();
          observer.disconnect();
          const arrived = arrivals.filter((t) => t > start).at(-1) ?? drawn;
          // Posted from inside the drawing frame, this runs once its paint and commit are done.
          const channel = new MessageChannel();
          channel.port1.onmessage = () => resolve([drawn - start, arrived - start, performance.now() - start]);
          channel.port2.postMessage(null);
        });
        observer.observe(root, { attributes: true, attributeFilter: ["data-rendered-text", "data-status"] });
      }),
      k % 5 === 4 ? " " : letters[k % letters.length],
    );
    const [total, arrived, painted] = /** @type {[number, number, number]} */ (ms);
    if (k >= 2) {
      samples.push(total);
      arrivalSamples.push(arrived);
      paintedSamples.push(painted);
    }
  }
  const drawnTokens = Number(await page.locator(".gw-root").getAttribute("data-tokens"));
  const forward = JSON.parse(
    execFileSync(PYTHON, [join(ROOT, "benchmarks/forward.py"), shape, "--tokens",
      String(drawnTokens), "--model-dir", modelDir], { encoding: "utf8" }).trim()
      .split("\n").at(-1) ?? "{}",
  );
  const median = quantile(samples, 0.5);
  console.log(JSON.stringify({
    shape,
    nodelay: values.nodelay,
    tokens: drawnTokens,
    keys: samples.length,
    keystroke_to_redraw_ms_median: Math.round(median * 10) / 10,
    keystroke_to_redraw_ms_p90: Math.round(quantile(samples, 0.9) * 10) / 10,
    result_reaches_page_ms_median: Math.round(quantile(arrivalSamples, 0.5) * 10) / 10,
    keystroke_to_painted_ms_median: Math.round(quantile(paintedSamples, 0.5) * 10) / 10,
    bare_forward_ms_median: forward.bare_forward_ms_median,
    ratio_to_bare_forward: Math.round((median / forward.bare_forward_ms_median) * 100) / 100,
    painted_ratio_to_bare_forward:
      Math.round((quantile(paintedSamples, 0.5) / forward.bare_forward_ms_median) * 100) / 100,
  }));
} finally {
  await browser.close();
  server.stop();
  workspace.cleanup();
}
