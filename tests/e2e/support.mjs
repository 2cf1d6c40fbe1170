// Starting `smol serve` on a free port for a test, and the reference text from `smol generate`.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");

export const smolBinary = process.env.SMOL_BIN ?? path.join(path.resolve(root, process.env.BUILD ?? "build"), "smol");
const shared = process.env.SMOL_SHARED ?? [path.join(root, "../shared"), "/work/shared"].find((p) => existsSync(path.join(p, "fixtures")));
export const fixture = (name) => path.join(shared, "fixtures", name);
export const outputDir = path.join(here, "output");

export function ensureOutputDir() {
  mkdirSync(outputDir, { recursive: true });
  return outputDir;
}

// Runs `smol serve -m MODEL --port 0 ...` and resolves once it prints its address.
export function startServer(args = [], model = fixture("tiny-f32")) {
  const child = spawn(smolBinary, ["serve", "-m", model, "--port", "0", "-t", "2", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("smol serve did not start:\n" + log)), 30000);
    child.stderr.on("data", (d) => {
      log += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          log: () => log,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null) return done(child.exitCode);
            child.once("exit", (code) => done(code));
            child.kill("SIGTERM");
          }),
        });
      }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`smol serve exited with ${code}:\n${log}`)); });
  });
}

// What `smol generate --temp 0` prints for the same request: the ground truth for the server.
export function generate(args) {
  return execFileSync(smolBinary, ["generate", "-m", fixture("tiny-f32"), "--temp", "0", ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
}
