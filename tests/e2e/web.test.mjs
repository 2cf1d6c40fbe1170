// The chat page at / in headless Chromium (Debian's, driven by playwright-core): type a
// message, watch the reply stream in, stop a long reply. Screenshots go to ./output.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer, generate, ensureOutputDir } from "./support.mjs";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];
let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
});

async function openPage(url, settings) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url + "/");
  await page.waitForFunction(() => document.getElementById("model").textContent !== "…");
  for (const [id, value] of Object.entries(settings)) await page.fill("#" + id, String(value));
  return { page, requests };
}

test("typing a message streams the reply into the page", async () => {
  const server = await startServer(["--parallel", "2", "--ctx", "256", "--debug-step-delay-ms", "15"]);
  try {
    const expected = generate(["--chat", "-p", "What is 2+2?", "-n", "24"]);
    const { page, requests } = await openPage(server.url, { temperature: 0, max_tokens: 24 });
    await page.fill("[data-testid=input]", "What is 2+2?");
    await page.click("[data-testid=send]");

    await page.waitForSelector(".msg.user");
    assert.equal(await page.textContent(".msg.user"), "What is 2+2?");
    const reply = page.locator(".msg.assistant").last();
    // Streaming: the bubble shows part of the reply before the whole of it.
    await page.waitForFunction(
      (full) => { const t = document.querySelector(".msg.assistant")?.textContent ?? ""; return t.length > 0 && t.length < full.length; },
      expected);
    assert.equal(await page.isEnabled("[data-testid=stop]"), true);
    await page.waitForSelector(".msg.assistant[data-done=true]");
    assert.equal(await reply.textContent(), expected);
    assert.equal(await page.isEnabled("[data-testid=send]"), true);
    assert.match(await page.textContent("[data-testid=stats]"), /24 tokens/);
    await page.screenshot({ path: path.join(ensureOutputDir(), "web-chat.png"), fullPage: true });

    // Only the server itself was contacted: nothing from a CDN.
    for (const url of requests) assert.ok(url.startsWith(server.url), url);
    await page.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("the stop button ends a long reply and frees the server's slot", async () => {
  const server = await startServer(["--parallel", "1", "--ctx", "4096", "--debug-step-delay-ms", "20"]);
  try {
    const { page } = await openPage(server.url, { temperature: 0, max_tokens: 3000 });
    await page.fill("[data-testid=input]", "Tell me a long story");
    await page.press("[data-testid=input]", "Enter");
    await page.waitForFunction(() => (document.querySelector(".msg.assistant")?.textContent ?? "").length > 10);
    await page.click("[data-testid=stop]");
    await page.waitForSelector(".msg.assistant[data-done=stopped]");
    let metrics = "";
    for (let i = 0; i < 100; i++) {
      metrics = await (await fetch(server.url + "/metrics")).text();
      if (/\nsmol_active_slots 0\n/.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(metrics, /\nsmol_active_slots 0\n/);
    assert.match(metrics, /\nsmol_requests_cancelled_total 1\n/);
    await page.screenshot({ path: path.join(ensureOutputDir(), "web-chat-stopped.png"), fullPage: true });
    await page.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
