// @ts-check
/**
 * Real servers and a real browser for end-to-end tests: JupyterLab or Voilà on 127.0.0.1,
 * started and stopped (by process group) by the test itself, and Debian's Chromium driven by
 * playwright-core. A tiny random Gemma 3 encoder with the real tokenizer stands in for
 * EmbeddingGemma, loaded through the same from_pretrained path.
 */
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = resolve(import.meta.dirname, "../..");
export const PYTHON = process.env.GW_PYTHON ?? join(ROOT, ".venv/bin/python");
export const SCREENSHOTS = join(ROOT, "docs/screenshots");

const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
];

/**
 * A fresh working folder holding a model of `shape` (or none); removed by `cleanup()`.
 * With `sentenceTransformers`, the model has EmbeddingGemma's embedding modules beside it.
 * @param {"tiny" | "embeddinggemma-shaped" | "none"} shape
 * @param {{ sentenceTransformers?: boolean }} [options]
 */
export function makeWorkspace(shape = "tiny", options = {}) {
  const dir = mkdtempSync(join(tmpdir(), "gw-browser-"));
  const modelDir = join(dir, "model");
  if (shape !== "none") {
    const flags = options.sentenceTransformers ? ["--sentence-transformers"] : [];
    execFileSync(PYTHON, [join(ROOT, "tests/model_factory.py"), shape, modelDir, ...flags], {
      stdio: ["ignore", "ignore", "pipe"], // a failure's message carries its stderr
    });
  }
  return { dir, modelDir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Write a notebook whose code cells are `sources`.
 * @param {string} path
 * @param {string[]} sources
 */
export function writeNotebook(path, sources) {
  const notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: "python3", display_name: "Python 3", language: "python" },
      language_info: { name: "python" },
    },
    cells: sources.map((source, index) => ({
      id: `cell-${index}`,
      cell_type: "code",
      metadata: {},
      execution_count: null,
      outputs: [],
      source,
    })),
  };
  writeFileSync(path, JSON.stringify(notebook, null, 1));
}

/** @returns {Promise<number>} */
async function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** @param {number} port */
function accepts(port) {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), done(true)));
    socket.once("error", () => done(false));
  });
}

/**
 * Wait until the server listens (a request to Voilà would start a kernel, so only connect).
 * @param {number} port
 * @param {import("node:child_process").ChildProcess} child
 * @param {string[]} log
 */
async function waitForPort(port, child, log, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${log.join("")}`);
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`server on port ${port} not ready after ${timeoutMs} ms:\n${log.join("")}`);
}

/**
 * Start JupyterLab, Jupyter Notebook 7 or Voilà serving `dir` on a free loopback port.
 * @param {"lab" | "notebook" | "voila"} kind
 * @param {string} dir
 * @param {string} [notebook] for Voilà: the notebook to serve
 * @param {Record<string, string>} [extraEnv] for the server and its kernels
 * @param {{ nodelay?: boolean }} [options] nodelay: with gemma_widget.nodelay, as
 *   scripts/demo.sh serves (TCP_NODELAY on kernel websockets)
 */
export async function startServer(kind, dir, notebook, extraEnv = {}, options = {}) {
  const port = await freePort();
  const token = `gw${Math.random().toString(36).slice(2)}`;
  const common = [`--port=${port}`, "--no-browser"];
  const jupyterServer = [...common, "--ServerApp.ip=127.0.0.1",
    `--IdentityProvider.token=${token}`, "--ServerApp.allow_root=True",
    `--ServerApp.root_dir=${dir}`];
  const args = {
    lab: ["-m", "jupyterlab", ...jupyterServer, "--LabApp.expose_app_in_browser=True",
      "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
      `--LabApp.workspaces_dir=${join(dir, ".workspaces")}`],
    notebook: ["-m", "notebook", ...jupyterServer,
      "--JupyterNotebookApp.expose_app_in_browser=True"],
    voila: ["-m", "voila", notebook ?? "", ...common, "--Voila.ip=127.0.0.1",
      `--Voila.token=${token}`],
  }[kind];
  if (options.nodelay && kind === "voila") args.splice(0, 2, "-m", "gemma_widget.nodelay", "voila");
  else if (options.nodelay) args.push("--ServerApp.jpserver_extensions=gemma_widget.nodelay=True");
  const env = {
    ...process.env,
    HF_HUB_OFFLINE: "1",
    TOKENIZERS_PARALLELISM: "false",
    JUPYTER_RUNTIME_DIR: join(dir, ".runtime"),
    JUPYTER_CONFIG_DIR: join(dir, ".config"),
    ...extraEnv,
  };
  const child = spawn(PYTHON, args, { cwd: dir, env, detached: true, stdio: "pipe" });
  /** @type {string[]} */
  const log = [];
  child.stdout?.on("data", (chunk) => log.push(String(chunk)));
  child.stderr?.on("data", (chunk) => log.push(String(chunk)));
  const base = `http://127.0.0.1:${port}`;
  const stop = () => {
    if (child.exitCode === null && child.pid) {
      try {
        process.kill(-child.pid, "SIGTERM"); // the whole group: server and its kernels
      } catch {
        // already gone
      }
    }
  };
  try {
    await waitForPort(port, child, log);
  } catch (error) {
    stop();
    throw error;
  }
  /** @param {string} name a notebook under the server's root */
  const notebookUrl = (name) =>
    `${base}/${kind === "notebook" ? "notebooks" : "lab/tree"}/${name}?token=${token}`;
  return { base, token, log, stop, notebookUrl };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.GW_CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
  });
}

/**
 * Type into the widget's text box key by key and wait until the view shows that text.
 * Returns milliseconds from the last key to the redraw for it.
 * @param {import("playwright-core").Locator} root a `.gw-root`
 * @param {string} keys
 */
export async function typeAndWaitForRedraw(root, keys) {
  const box = root.locator(".gw-text");
  await box.click();
  await box.press("End");
  await box.pressSequentially(keys);
  const started = await root.page().evaluate(() => performance.now());
  const wanted = await box.inputValue();
  await root.page().waitForFunction(
    ([element, text]) =>
      element instanceof HTMLElement &&
      element.dataset.renderedText === text &&
      element.dataset.status === "ready",
    /** @type {const} */ ([await root.elementHandle(), wanted]),
    { timeout: 60_000 },
  );
  const finished = await root.page().evaluate(() => performance.now());
  return { text: wanted, ms: finished - started };
}

/** The text of the drawn source-column tokens. @param {import("playwright-core").Locator} root */
export async function drawnTokens(root) {
  return root.locator('.gw-token[data-side="source"] .gw-token-text').allTextContents();
}

/**
 * Start a JupyterLab command (menu item) in the page, as a user's click would. Like a click, it
 * does not wait for the command to finish (running a cell finishes when the cell does): tests
 * wait for the effect they expect.
 * @param {import("playwright-core").Page} page
 * @param {string} command e.g. "notebook:run-all-cells"
 */
export async function labCommand(page, command) {
  await page.evaluate((id) => {
    void (/** @type {any} */ (window).jupyterapp.commands.execute(id));
  }, command);
}

/**
 * Wait until the first widget view's `data-NAME` attribute (e.g. `status`, `kernel`) is `value`.
 * @param {import("playwright-core").Page} page
 * @param {string} name
 * @param {string} value
 */
export async function waitForView(page, name, value, timeout = 90_000) {
  await page.waitForFunction(
    ([attribute, wanted]) =>
      document.querySelector(".gw-root")?.getAttribute(`data-${attribute}`) === wanted,
    /** @type {const} */ ([name, value]),
    { timeout },
  );
}

/**
 * Wait until the open notebook's kernel has `property` (e.g. `status`) equal to `value`.
 * @param {import("playwright-core").Page} page
 * @param {string} property
 * @param {string} value
 */
export async function waitForKernel(page, property, value, timeout = 60_000) {
  await page.waitForFunction(
    ([key, wanted]) => {
      const panel = /** @type {any} */ (window).jupyterapp.shell.currentWidget;
      return panel?.sessionContext?.session?.kernel?.[key] === wanted;
    },
    /** @type {const} */ ([property, value]),
    { timeout },
  );
}

/**
 * Open `notebook` in JupyterLab or Notebook 7, wait for its kernel, and run all its cells.
 * @param {import("playwright-core").Page} page
 * @param {{ notebookUrl: (name: string) => string }} server
 * @param {string} notebook path relative to the server's root
 */
export async function openAndRunNotebook(page, server, notebook) {
  await page.goto(server.notebookUrl(notebook));
  await page.waitForFunction(() => "jupyterapp" in window, null, { timeout: 60_000 });
  await page.locator(".jp-Notebook").waitFor({ timeout: 60_000 });
  await waitForKernel(page, "connectionStatus", "connected");
  await labCommand(page, "notebook:run-all-cells");
}

/**
 * Append a code cell with `code` at the end of the open notebook and run it.
 * @param {import("playwright-core").Page} page
 * @param {string} code
 */
export async function runCell(page, code) {
  await page.locator(".jp-Notebook .jp-Cell").last().click();
  await labCommand(page, "notebook:insert-cell-below");
  await page.locator(".jp-Notebook .jp-Cell").last().locator(".cm-content").fill(code);
  await labCommand(page, "notebook:run-cell");
}

/**
 * Everything a notebook browser test needs: a tiny model, a notebook of `cells(modelDir)`, a
 * JupyterLab or Notebook 7 server on it, and a page that opened it and ran every cell.
 * `close()` stops the browser and the server and removes the files.
 * @param {"lab" | "notebook"} kind
 * @param {(modelDir: string) => string[]} cells
 * @param {{ width: number, height: number }} viewport
 */
export async function notebookSession(kind, cells, viewport = { width: 1100, height: 900 }) {
  const workspace = makeWorkspace();
  writeNotebook(join(workspace.dir, "widget.ipynb"), cells(workspace.modelDir));
  const server = await startServer(kind, workspace.dir);
  const browser = await launchBrowser();
  const close = async () => {
    await browser.close();
    server.stop();
    workspace.cleanup();
  };
  try {
    const page = await browser.newPage({ viewport });
    await openAndRunNotebook(page, server, "widget.ipynb");
    return { workspace, server, page, close };
  } catch (error) {
    await close();
    throw error;
  }
}
