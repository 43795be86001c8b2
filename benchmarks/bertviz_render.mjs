// @ts-check
/**
 * Render time of bertviz's head_view and model_view next to this widget's standalone page, in
 * the same Chromium, on the same attention (EmbeddingGemma-shaped model, same text).
 *
 *   node benchmarks/bertviz_render.mjs [--tokens 8,32,128] [--model-dir DIR] [--limit-s 120]
 *
 * bertviz's HTML loads require.js, d3 5.7.0 and jQuery from cdnjs. This machine cannot reach a
 * CDN, so the test serves those URLs from npm copies (require.js 2.3.6 and d3 5.7.0 exactly;
 * jQuery 2.1.0, the oldest 2.x on npm, for bertviz's 2.0.0). Times run from navigation start to
 * the moment everything is drawn: bertviz's head view has its 2n token labels, its model view a
 * thumbnail per layer and head; our page has `data-drawn` for the head view and for the model
 * view. Runs that exceed --limit-s are reported as such. One JSON line per length.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PYTHON, ROOT, launchBrowser, makeWorkspace } from "../tests/browser/harness.mjs";

const { values } = parseArgs({
  options: {
    tokens: { type: "string", default: "8,32,128" },
    "model-dir": { type: "string" },
    "limit-s": { type: "string", default: "120" },
  },
});
const limitMs = Number(values["limit-s"]) * 1000;
const CDN = {
  "require.js/2.3.6/require.min.js": "node_modules/requirejs/require.js",
  "d3/5.7.0/d3.min.js": "node_modules/d3/dist/d3.min.js",
  "jquery/2.0.0/jquery.min.js": "node_modules/jquery/dist/jquery.min.js",
};
const WORDS = "the quick brown fox jumps over a lazy dog while seven tired cats watch".split(" ");

const workspace = makeWorkspace(values["model-dir"] ? "none" : "embeddinggemma-shaped");
const modelDir = values["model-dir"] ?? workspace.modelDir;
const out = mkdtempSync(join(tmpdir(), "gw-bertviz-"));
const browser = await launchBrowser();
try {
  for (const tokens of String(values.tokens).split(",").map(Number)) {
    const text = Array.from({ length: tokens - 1 }, (_, k) => WORDS[k % WORDS.length]).join(" ");
    const made = execFileSync(PYTHON, ["-c", [
      "import sys",
      "from bertviz import head_view, model_view",
      "from gemma_widget import AttentionWidget",
      "w = AttentionWidget(sys.argv[1], model=sys.argv[2]).wait(timeout=600)",
      "attention, labels = w.bertviz()",
      "page = '<!doctype html><html><body>{}</body></html>'",
      "open(sys.argv[3] + '/head.html', 'w').write(page.format(head_view(attention, labels, html_action='return').data))",
      "open(sys.argv[3] + '/model.html', 'w').write(page.format(model_view(attention, labels, html_action='return').data))",
      "w.save(sys.argv[3] + '/ours-head.html')",
      "w.view = 'model'",
      "w.save(sys.argv[3] + '/ours-model.html')",
      "print(len(w.tokens), w.num_layers * w.num_heads)",
    ].join("\n"), text, modelDir, out], { cwd: ROOT, encoding: "utf8" });
    const [n, maps] = made.trim().split("\n").at(-1)?.split(" ").map(Number) ?? [0, 0];
    const row = {
      tokens: n,
      bertviz_head_view_ms: await timePage(`${out}/head.html`, ([count]) =>
        document.querySelectorAll("#vis svg text").length >= 2 * count, [n, maps]),
      bertviz_model_view_ms: await timePage(`${out}/model.html`, ([, heads]) =>
        document.querySelectorAll("[id^=attn_background_]").length >= heads, [n, maps]),
      widget_head_view_ms: await timePage(`${out}/ours-head.html`, () =>
        (document.querySelector(".gw-root")?.getAttribute("data-drawn") ?? "").startsWith("head"), [n, maps]),
      widget_model_view_ms: await timePage(`${out}/ours-model.html`, () =>
        document.querySelector(".gw-root")?.getAttribute("data-drawn") === "model", [n, maps]),
    };
    console.log(JSON.stringify(row));
  }
} finally {
  await browser.close();
  rmSync(out, { recursive: true, force: true });
  workspace.cleanup();
}

/**
 * Open `file` in a fresh page (CDN requests answered from npm copies) and time it to `drawn`.
 * @param {string} file
 * @param {(counts: number[]) => boolean} drawn evaluated in the page
 * @param {number[]} counts tokens, and maps in the model view
 * @returns {Promise<number | string>} milliseconds, or why there is no figure
 */
async function timePage(file, drawn, counts) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  try {
    await page.route("https://cdnjs.cloudflare.com/ajax/libs/**", (route) => {
      const path = new URL(route.request().url()).pathname.replace("/ajax/libs/", "");
      const local = CDN[/** @type {keyof typeof CDN} */ (path)];
      return local ? route.fulfill({ path: join(ROOT, local) }) : route.abort();
    });
    await page.goto(`file://${file}`, { waitUntil: "commit", timeout: limitMs });
    await page.waitForFunction(drawn, counts, { timeout: limitMs, polling: "raf" });
    return Math.round(await page.evaluate(() => performance.now()));
  } catch (error) {
    return `not drawn within ${limitMs / 1000} s (${String(error).split("\n")[0].slice(0, 80)})`;
  } finally {
    await page.close();
  }
}
