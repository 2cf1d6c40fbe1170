// The chat page: plain HTML, CSS and JavaScript in one document, compiled into the binary so
// `smol serve` needs no files beside it. It talks to the same server's
// /v1/chat/completions with stream: true and renders the Server-Sent Events as they come.
#include "server/web_page.hpp"

namespace smol::server {

namespace {

constexpr std::string_view kPage = R"smolpage(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>smol chat</title>
<style>
  :root { --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #6b7385; --accent: #3457d5; --user: #e6ecff; --line: #dde1e8; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--ink);
         display: flex; height: 100vh; }
  main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  header { padding: 10px 18px; border-bottom: 1px solid var(--line); background: var(--panel); display: flex; gap: 12px; align-items: baseline; }
  header h1 { font-size: 17px; margin: 0; }
  header span { color: var(--muted); font-size: 13px; }
  #messages { flex: 1; overflow-y: auto; padding: 18px; display: flex; flex-direction: column; gap: 12px; }
  .msg { max-width: 80%; padding: 9px 13px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; }
  .msg.user { align-self: flex-end; background: var(--user); }
  .msg.assistant { align-self: flex-start; background: var(--panel); border: 1px solid var(--line); }
  .msg.assistant.streaming::after { content: "▍"; color: var(--accent); }
  .msg.error { align-self: center; color: #a31515; background: #fde8e8; }
  .empty { color: var(--muted); margin: auto; }
  form { display: flex; gap: 8px; padding: 12px 18px; border-top: 1px solid var(--line); background: var(--panel); }
  textarea { flex: 1; resize: none; height: 52px; padding: 8px; font: inherit; border: 1px solid var(--line); border-radius: 8px; }
  button { font: inherit; padding: 0 16px; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: var(--accent); }
  button:disabled { opacity: .45; cursor: default; }
  aside { width: 250px; border-left: 1px solid var(--line); background: var(--panel); padding: 14px; display: flex; flex-direction: column; gap: 12px; }
  aside h2 { font-size: 14px; margin: 0; }
  label { display: flex; flex-direction: column; gap: 3px; font-size: 13px; color: var(--muted); }
  label input, label textarea { font: inherit; color: var(--ink); padding: 5px; border: 1px solid var(--line); border-radius: 6px; height: auto; }
  .stats { font-size: 12px; color: var(--muted); min-height: 1.5em; }
</style>
</head>
<body>
<main>
  <header><h1>smol chat</h1><span id="model">…</span></header>
  <div id="messages" data-testid="messages"><div class="empty" id="empty">Say something to the model.</div></div>
  <form id="composer">
    <textarea id="input" data-testid="input" placeholder="Message (Enter to send, Shift+Enter for a new line)"></textarea>
    <button type="submit" id="send" data-testid="send">Send</button>
    <button type="button" id="stop" data-testid="stop" class="secondary" disabled>Stop</button>
  </form>
</main>
<aside>
  <h2>Settings</h2>
  <label>System message <textarea id="system" rows="3"></textarea></label>
  <label>Temperature <input id="temperature" data-testid="temperature" type="number" min="0" max="2" step="0.1" value="0.7"></label>
  <label>Top-p <input id="top_p" data-testid="top_p" type="number" min="0.01" max="1" step="0.05" value="0.95"></label>
  <label>Max tokens <input id="max_tokens" data-testid="max_tokens" type="number" min="1" step="1" value="512"></label>
  <label>API key (if the server has one) <input id="api_key" type="password" autocomplete="off"></label>
  <button type="button" id="clear" class="secondary">New conversation</button>
  <div class="stats" id="stats" data-testid="stats"></div>
</aside>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const turns = [];            // {role, content} of the finished turns
let controller = null;       // the AbortController of the reply being streamed

function addMessage(role, text) {
  $("empty")?.remove();
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.dataset.role = role;
  div.textContent = text;
  $("messages").appendChild(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return div;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

function settings() {
  const body = { stream: true, stream_options: { include_usage: true } };
  const t = parseFloat($("temperature").value), p = parseFloat($("top_p").value), n = parseInt($("max_tokens").value, 10);
  if (!Number.isNaN(t)) body.temperature = t;
  if (!Number.isNaN(p)) body.top_p = p;
  if (!Number.isNaN(n)) body.max_tokens = n;
  return body;
}

// Reads an SSE body: calls onData with each `data:` payload, in order.
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ")) onData(line.slice(6));
      }
    }
  }
}

async function send(text) {
  turns.push({ role: "user", content: text });
  addMessage("user", text);
  const bubble = addMessage("assistant", "");
  bubble.classList.add("streaming");
  setBusy(true);
  controller = new AbortController();
  const started = performance.now();
  let firstToken = null, reply = "", usage = null;
  const messages = [];
  if ($("system").value.trim()) messages.push({ role: "system", content: $("system").value });
  messages.push(...turns);
  const headers = { "Content-Type": "application/json" };
  if ($("api_key").value) headers["Authorization"] = "Bearer " + $("api_key").value;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers, signal: controller.signal,
      body: JSON.stringify({ model: $("model").textContent, messages, ...settings() }),
    });
    if (!response.ok) {
      const err = await response.json().catch(() => ({}));
      throw new Error(err.error?.message || ("HTTP " + response.status));
    }
    await readEvents(response, (data) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const delta = chunk.choices?.[0]?.delta?.content;
      if (delta) {
        if (firstToken === null) firstToken = performance.now();
        reply += delta;
        bubble.textContent = reply;
        $("messages").scrollTop = $("messages").scrollHeight;
      }
    });
    bubble.dataset.done = "true";
  } catch (e) {
    if (e.name === "AbortError") {
      bubble.dataset.done = "stopped";
    } else {
      bubble.dataset.done = "error";
      addMessage("error", e.message);
    }
  } finally {
    bubble.classList.remove("streaming");
    turns.push({ role: "assistant", content: reply });
    controller = null;
    setBusy(false);
    const secs = (performance.now() - started) / 1000;
    const parts = [];
    if (firstToken !== null) parts.push("first token " + ((firstToken - started) / 1000).toFixed(2) + " s");
    if (usage) parts.push(usage.completion_tokens + " tokens, " + (usage.completion_tokens / secs).toFixed(1) + " tok/s");
    $("stats").textContent = parts.join(" · ");
  }
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text || controller) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("stop").addEventListener("click", () => controller?.abort());
$("clear").addEventListener("click", () => {
  controller?.abort();
  turns.length = 0;
  $("messages").innerHTML = '<div class="empty" id="empty">Say something to the model.</div>';
  $("stats").textContent = "";
});
fetch("/v1/models", { headers: $("api_key").value ? { Authorization: "Bearer " + $("api_key").value } : {} })
  .then((r) => r.json()).then((j) => { $("model").textContent = j.data?.[0]?.id ?? "model"; })
  .catch(() => { $("model").textContent = "model"; });
</script>
</body>
</html>
)smolpage";

}  // namespace

std::string_view web_page_html() { return kPage; }

}  // namespace smol::server
