#!/usr/bin/env python3
"""Soak test of `smol serve` with faults, on 127.0.0.1 only, for a bounded time.

Usage: bench/serve_soak.py SECONDS [--smol build/smol] [--model models/tiny-random-bf16]
                            [--clients 32] [--max-rss-growth-mib 24] [--json REPORT.json]

For SECONDS, CLIENTS threads loop over a mix of: streaming and non-streaming chat and text
completions (checked: status, JSON shape, SSE framing up to `data: [DONE]`), streams the
client abandons after two chunks, slow readers (a few bytes at a time), malformed JSON
(expect 400), bodies above --max-body-bytes with Content-Length and chunked (expect 413), and
/metrics scrapes. The server's RSS is sampled every second. At the end a few long streams are
left running and the server gets SIGTERM: it must end them and exit 0.

Prints a report (requests by class, unexpected answers, RSS over time, latency percentiles)
and exits 1 when anything was unexpected: a status or body that is wrong, a connection the
server dropped, a crash (any exit but 0 after SIGTERM, or an exit before it), or RSS growing
more than --max-rss-growth-mib from just after warm-up (the first 25% of the run) to the end.
Standard library only.
"""
import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BODY_LIMIT = 256 * 1024  # --max-body-bytes of the soaked server


class Unexpected(Exception):
    """An answer the server should not have given."""


def connect(port, timeout=60):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def post(conn, path, body, headers=None, chunked=False):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if chunked:
        conn.request("POST", path, body=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]), headers=h,
                     encode_chunked=True)
    else:
        conn.request("POST", path, body=body, headers=h)
    return conn.getresponse()


def expect_error(resp, status, code=None):
    body = resp.read()
    if resp.status != status:
        raise Unexpected(f"status {resp.status} instead of {status}: {body[:200]!r}")
    err = json.loads(body).get("error")
    if not isinstance(err, dict) or not err.get("message") or (code and err.get("code") != code):
        raise Unexpected(f"not an OpenAI error body: {body[:200]!r}")


def request_body(rng, stream, chat, max_tokens):
    if chat:
        body = {"messages": [{"role": "user", "content": rng.choice(["Hi", "Tell me a story", "Why?", "ok"])}]}
    else:
        body = {"prompt": rng.choice(["Once upon a time", "Hello", "The", "In the beginning"])}
    body.update({"max_tokens": max_tokens, "temperature": rng.choice([0, 0.7, 1.0]), "stream": stream})
    if rng.random() < 0.3:
        body["seed"] = rng.randrange(1 << 30)
    return json.dumps(body).encode()


def check_completion(data, chat, max_tokens):
    j = json.loads(data)
    choice = j["choices"][0]
    text = choice["message"]["content"] if chat else choice["text"]
    if not isinstance(text, str) or j["usage"]["completion_tokens"] > max_tokens:
        raise Unexpected(f"bad completion: {data[:200]!r}")
    if choice["finish_reason"] not in ("stop", "length"):
        raise Unexpected(f"finish_reason {choice['finish_reason']!r}")


def read_sse(resp, slow=False, stop_after=None):
    """Reads an SSE body; returns the data payloads. slow: a few bytes at a time."""
    buf, events = b"", []
    while True:
        chunk = resp.read(16) if slow else resp.read1(65536)
        if slow:
            time.sleep(0.01)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if line.startswith(b"data: "):
                    events.append(line[6:])
            if stop_after and len(events) >= stop_after:
                return events
    return events


def check_stream(events, chat):
    if not events or events[-1] != b"[DONE]":
        raise Unexpected(f"stream did not end with [DONE]: {events[-2:]!r}")
    for e in events[:-1]:
        j = json.loads(e)
        if "error" in j:
            raise Unexpected(f"error event: {e[:200]!r}")
        if "choices" not in j:
            raise Unexpected(f"chunk without choices: {e[:200]!r}")


MALFORMED = [
    b"{\"messages\": [",
    b"not json at all",
    b"",
    b"[]",
    b"{\"prompt\": 12}",
    b"{\"messages\": \"hi\"}",
    b"{\"prompt\": \"hi\", \"max_tokens\": \"many\"}",
    b"{\"prompt\": \"hi\", \"temperature\": -3}",
    b"\xff\xfe{\"prompt\": \"\xc3\x28\"}",
    b"[" * 5000 + b"]" * 5000,
    b"{\"prompt\": \"hi\", \"max_tokens\": -5}",
    b"{\"prompt\": \"hi\"" + b", \"x\": 1" * 2000,
]


class Soak:
    def __init__(self, args):
        self.args = args
        self.counts = Counter()
        self.problems = Counter()
        self.examples = {}
        self.latency = {}  # class -> list of seconds
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.rss = []  # (seconds since start, KiB)

    def record(self, cls, seconds=None):
        with self.lock:
            self.counts[cls] += 1
            if seconds is not None:
                self.latency.setdefault(cls, []).append(seconds)

    def problem(self, cls, detail):
        with self.lock:
            self.problems[cls] += 1
            self.examples.setdefault(cls, detail)

    # One action of one client; returns its class name.
    def act(self, rng):
        port = self.port
        r = rng.random()
        conn = connect(port)
        start = time.monotonic()
        try:
            if r < 0.30:  # streaming, read in full
                chat = rng.random() < 0.5
                n = rng.randint(4, 24)
                resp = post(conn, "/v1/chat/completions" if chat else "/v1/completions", request_body(rng, True, chat, n))
                if resp.status != 200:
                    raise Unexpected(f"stream status {resp.status}: {resp.read()[:200]!r}")
                check_stream(read_sse(resp), chat)
                return "stream", time.monotonic() - start
            if r < 0.55:  # non-streaming
                chat = rng.random() < 0.5
                n = rng.randint(1, 24)
                resp = post(conn, "/v1/chat/completions" if chat else "/v1/completions", request_body(rng, False, chat, n))
                data = resp.read()
                if resp.status != 200:
                    raise Unexpected(f"status {resp.status}: {data[:200]!r}")
                check_completion(data, chat, n)
                return "complete", time.monotonic() - start
            if r < 0.65:  # abandons a long stream after two chunks
                resp = post(conn, "/v1/completions", request_body(rng, True, False, 400))
                if resp.status != 200:
                    raise Unexpected(f"stream status {resp.status}")
                read_sse(resp, stop_after=2)
                return "disconnect", None  # closed unread by the finally below
            if r < 0.72:  # slow reader
                resp = post(conn, "/v1/chat/completions", request_body(rng, True, True, 12))
                if resp.status != 200:
                    raise Unexpected(f"stream status {resp.status}")
                check_stream(read_sse(resp, slow=True), True)
                return "slow_reader", time.monotonic() - start
            if r < 0.82:  # malformed
                resp = post(conn, rng.choice(["/v1/chat/completions", "/v1/completions"]), rng.choice(MALFORMED))
                expect_error(resp, 400)
                return "malformed_400", time.monotonic() - start
            if r < 0.88:  # oversized
                chunked = rng.random() < 0.5
                body = b"{\"prompt\": \"" + b"a" * (BODY_LIMIT + rng.randint(1, 65536)) + b"\"}"
                resp = post(conn, "/v1/completions", body, chunked=chunked)
                expect_error(resp, 413, "request_too_large")
                return "oversized_413_chunked" if chunked else "oversized_413", time.monotonic() - start
            conn.request("GET", "/metrics")  # scrape
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or b"smol_requests_total" not in data:
                raise Unexpected(f"/metrics status {resp.status}")
            return "metrics", time.monotonic() - start
        finally:
            conn.close()

    def client(self, seed):
        rng = random.Random(seed)
        while not self.stop.is_set():
            try:
                cls, seconds = self.act(rng)
                self.record(cls, seconds)
            except Unexpected as e:
                self.problem("unexpected_answer", str(e))
            except (OSError, http.client.HTTPException) as e:
                # The server closed or reset a connection it should have answered.
                self.problem(f"connection_error:{type(e).__name__}", str(e))

    def sample_rss(self, pid, t0):
        while not self.stop.is_set():
            try:
                with open(f"/proc/{pid}/status") as f:
                    kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
                self.rss.append((time.monotonic() - t0, kib))
            except (OSError, AttributeError):
                pass
            self.stop.wait(1.0)

    def shutdown_with_streams(self, proc):
        """Leaves long streams running, sends SIGTERM, and checks that they end and it exits 0."""
        results = []

        def long_stream():
            conn = connect(self.port)
            try:
                resp = post(conn, "/v1/completions", request_body(random.Random(1), True, False, 2000))
                events = read_sse(resp)
                ended = events and (events[-1] == b"[DONE]" or b"shutting down" in events[-1])
                results.append("ended" if ended else f"cut: {events[-1:]!r}")
            except (OSError, http.client.HTTPException) as e:
                results.append(f"error: {e}")
            finally:
                conn.close()

        threads = [threading.Thread(target=long_stream) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "hung after SIGTERM (killed)"
        for t in threads:
            t.join(timeout=30)
        for r in results:
            if r != "ended":
                self.problem("stream_cut_at_shutdown", r)
        return code

    def run(self):
        a = self.args
        log = tempfile.NamedTemporaryFile(prefix="smol-soak-", suffix=".log", delete=False)
        cmd = [a.smol, "serve", "-m", a.model, "--host", "127.0.0.1", "--port", "0", "-t", str(a.threads),
               "--parallel", str(a.parallel), "--queue", str(a.clients * 2 + 8), "--ctx", "512",
               "--max-body-bytes", str(BODY_LIMIT), "--shutdown-grace", "1000"]
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        self.port = None
        while self.port is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(log.name).read())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.05)
        if self.port is None:
            proc.kill()
            sys.exit(f"serve_soak: smol serve did not start: {open(log.name).read()[-2000:]}")

        t0 = time.monotonic()
        sampler = threading.Thread(target=self.sample_rss, args=(proc.pid, t0), daemon=True)
        sampler.start()
        clients = [threading.Thread(target=self.client, args=(a.seed + i,)) for i in range(a.clients)]
        for c in clients:
            c.start()
        while time.monotonic() - t0 < a.seconds and proc.poll() is None:
            time.sleep(0.2)
        died_early = proc.poll()
        self.stop.set()
        for c in clients:
            c.join()
        elapsed = time.monotonic() - t0
        code = died_early if died_early is not None else self.shutdown_with_streams(proc)
        if died_early is not None:
            self.problem("crash", f"smol serve exited with {died_early} during the soak")
        elif code != 0:
            self.problem("crash", f"exit after SIGTERM: {code}")
        tail = open(log.name).read()[-3000:]
        os.unlink(log.name)
        return self.report(elapsed, code, tail)

    def report(self, elapsed, code, log_tail):
        a = self.args
        answered = sum(self.counts.values())
        lines = [f"smol serve soak: {elapsed:.0f} s, {a.clients} clients, model {a.model}, "
                 f"{a.threads} threads, --parallel {a.parallel}"]
        lines.append(f"requests answered correctly: {answered}  ({answered / elapsed:.1f}/s)")
        for cls, n in sorted(self.counts.items()):
            lat = sorted(self.latency.get(cls, []))
            pct = ""
            if lat:
                p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
                pct = f"  p50 {p(0.50):.0f} ms  p99 {p(0.99):.0f} ms  max {lat[-1] * 1000:.0f} ms"
            lines.append(f"  {cls:24s} {n:7d}{pct}")
        gen = sorted(self.latency.get("stream", []) + self.latency.get("complete", []))
        p99 = gen[min(len(gen) - 1, int(0.99 * len(gen)))] * 1000 if gen else float("nan")
        lines.append(f"p99 latency of generation requests (stream + non-stream): {p99:.0f} ms")
        problems = sum(self.problems.values())
        lines.append(f"unexpected: {problems}" + ("" if problems else " (none)"))
        for cls, n in sorted(self.problems.items()):
            lines.append(f"  {cls:24s} {n:7d}  e.g. {self.examples[cls][:160]}")
        # RSS: after warm-up (the first quarter) it must stay flat.
        rss = self.rss
        growth = 0.0
        if len(rss) >= 8:
            warm = [k for t, k in rss if elapsed * 0.25 <= t < elapsed * 0.40] or [rss[len(rss) // 4][1]]
            last = [k for t, k in rss if t >= elapsed * 0.85] or [rss[-1][1]]
            growth = (sum(last) / len(last) - sum(warm) / len(warm)) / 1024
            step = max(1, len(rss) // 10)
            series = ", ".join(f"{t:.0f}s {k / 1024:.1f}" for t, k in rss[::step])
            lines.append(f"RSS MiB over time: {series}; end {rss[-1][1] / 1024:.1f}, peak "
                         f"{max(k for _, k in rss) / 1024:.1f}")
            lines.append(f"RSS growth after warm-up (mean of 85-100% minus mean of 25-40% of the run): "
                         f"{growth:+.1f} MiB (bound {a.max_rss_growth_mib} MiB)")
        crashes = self.problems.get("crash", 0)
        lines.append(f"crashes: {crashes}; exit status after SIGTERM: {code}")
        failed = problems > 0 or growth > a.max_rss_growth_mib or answered == 0
        if failed:
            lines.append("FAILED; server log tail:\n" + log_tail)
        print("\n".join(lines), flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"seconds": elapsed, "clients": a.clients, "answered": answered, "counts": self.counts,
                           "problems": self.problems, "examples": self.examples, "p99_ms": p99,
                           "rss_kib": self.rss, "rss_growth_mib": growth, "exit_code": code}, f, indent=1)
        return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("seconds", type=float)
    ap.add_argument("--smol", default=os.path.join(ROOT, "build", "smol"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "tiny-random-bf16"))
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-rss-growth-mib", type=float, default=24.0)
    ap.add_argument("--json", help="also write the report as JSON here")
    sys.exit(Soak(ap.parse_args()).run())


if __name__ == "__main__":
    main()
