// @ts-check
/**
 * The floor under keystroke-to-redraw: one trait round trip (front end -> kernel -> front end)
 * through a minimal anywidget in the same JupyterLab + Chromium setup, with no model at all.
 *
 *   node benchmarks/comm_roundtrip.mjs [--trips 20] [--nodelay]
 *
 * --nodelay serves with gemma_widget.nodelay (TCP_NODELAY on the kernel websocket).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { launchBrowser, openAndRunNotebook, startServer, writeNotebook } from "../tests/browser/harness.mjs";

const { values } = parseArgs({
  options: { trips: { type: "string", default: "20" }, nodelay: { type: "boolean", default: false } },
});
const trips = Number(values.trips);
const dir = mkdtempSync(join(tmpdir(), "gw-echo-"));
writeNotebook(join(dir, "echo.ipynb"), [
  [
    "import anywidget, traitlets",
    "class Echo(anywidget.AnyWidget):",
    "    _esm = 'export default { render({ model }) { globalThis.echoModel = model; } }'",
    "    inp = traitlets.Unicode('').tag(sync=True)",
    "    out = traitlets.Unicode('').tag(sync=True)",
    "    @traitlets.observe('inp')",
    "    def _echo(self, change):",
    "        self.out = change['new']",
    "Echo()",
  ].join("\n"),
]);
const server = await startServer("lab", dir, undefined, {}, { nodelay: values.nodelay });
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await openAndRunNotebook(page, server, "echo.ipynb");
  await page.waitForFunction(() => "echoModel" in globalThis, null, { timeout: 60_000 });
  /** @type {number[]} */
  const samples = [];
  for (let k = 0; k < trips + 2; k++) {
    const ms = await page.evaluate(
      (value) => new Promise((resolve) => {
        const model = /** @type {any} */ (globalThis).echoModel;
        const start = performance.now();
        const onChange = () => {
          if (model.get("out") !== value) return;
          model.off("change:out", onChange);
          resolve(performance.now() - start);
        };
        model.on("change:out", onChange);
        model.set("inp", value);
        model.save_changes();
      }),
      `trip ${k}`,
    );
    if (k >= 2) samples.push(/** @type {number} */ (ms));
  }
  samples.sort((a, b) => a - b);
  console.log(JSON.stringify({
    nodelay: values.nodelay,
    trips: samples.length,
    roundtrip_ms_median: Math.round(samples[Math.floor(samples.length / 2)] * 10) / 10,
    roundtrip_ms_p90: Math.round(samples[Math.floor(0.9 * (samples.length - 1))] * 10) / 10,
  }));
} finally {
  await browser.close();
  server.stop();
  rmSync(dir, { recursive: true, force: true });
}
