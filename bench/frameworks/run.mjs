#!/usr/bin/env node
// bench/frameworks/run.mjs — the framework matrix: one page per framework
// (React 19 edge / browser / renderToReadableStream, Vue 3, Svelte 5, Solid
// 1.9, Preact 11), each bundled with esbuild as a rustyssr bundle (build.mjs),
// rendered by rustyssr and by Node 20, compared byte for byte, and timed side
// by side. Prints a Markdown report on stdout (progress on stderr).
//
//   node bench/frameworks/run.mjs [--runs 3] [--seconds 2] [--warmup 1] [--recipes]
//        [--node-flag FLAG]... [name...]
//
// --node-flag passes a V8/Node flag to the timed Node runs (repeatable), e.g.
// --node-flag --max-semi-space-size=1 to give Node rustyssr's young generation.
//
// --recipes also builds the README's Vite / webpack / Rollup recipes
// (recipes/build.mjs) and adds a row for each of their bundles (bytes
// compared, not timed).
//
// For each framework:
//  1. build dist/<name>.js (npm ci first when node_modules is missing);
//  2. Node 20 renders the URLs below (node-render.mjs --out: the bundle run
//     as a classic script in Node's own context, as bench/node does);
//  3. rustyssr renders them: the real binary (build/release/rustyssr, built
//     when missing) with a generated config that loads the bundle (one render
//     thread, cache off, render.debug on so a failure's message is in the
//     page), queried over HTTP on 127.0.0.1; `rustyssr -t` first, so a bundle
//     that does not load is reported with the gateway's own error;
//  4. the two pages of each URL are compared exactly (match, or the first
//     differing byte with some context);
//  5. renders/s of one isolate in process: bench/render_one.c (the shim as a
//     render thread uses it) against node-render.mjs's loop, `--runs` runs
//     alternated, min / median / max. Only for frameworks that rendered.
// A framework that fails anywhere gets its row with the error, and the run
// goes on with the next one. Exit status: 0 when every framework rendered
// byte-identically, 1 otherwise.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const build = join(repo, "build", "release");
const libdir = join(repo, "build", "deps", "root", "usr", "lib", "x86_64-linux-gnu");

const o = { runs: 3, seconds: 2, warmup: 1, recipes: false, nodeFlags: [], only: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--runs") o.runs = Math.max(1, parseInt(argv[++i], 10) || 1);
  else if (a === "--seconds") o.seconds = Number(argv[++i]);
  else if (a === "--warmup") o.warmup = Number(argv[++i]);
  else if (a === "--recipes") o.recipes = true;
  else if (a === "--node-flag") o.nodeFlags.push(argv[++i]);
  else if (a === "-h" || a === "--help") {
    console.log("usage: node bench/frameworks/run.mjs [--runs 3] [--seconds 2] [--warmup 1] [--recipes] [--node-flag FLAG]... [framework...]");
    process.exit(0);
  } else if (a.startsWith("--")) { console.error(`run.mjs: unknown option ${a}`); process.exit(2); }
  else o.only.push(a);
}
const log = (m) => process.stderr.write(`frameworks: ${m}\n`);

// The request URLs, the same for both engines: several categories and pages,
// a query with extra and repeated parameters, a percent-encoded one.
const URLS = [
  "/catalog/shoes?page=2",
  "/catalog/books?page=7&sort=cheap",
  "/catalog/toys",
  "/catalog/home?page=40",
  "/catalog/beauty?page=3&page=9",
  "/catalog/sport?page=5&q=caf%C3%A9+noir",
];

// ------------------------------------------------------------------ set-up
if (!existsSync(join(here, "node_modules", ".package-lock.json"))) {
  log("npm ci (bench/frameworks/package-lock.json)");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: here, stdio: ["ignore", 2, 2] });
}
const { FRAMEWORKS, build: buildBundle } = await import("./build.mjs");
const names = o.only.length ? o.only : Object.keys(FRAMEWORKS);
for (const n of names) if (!FRAMEWORKS[n]) { console.error(`run.mjs: unknown framework ${n} (${Object.keys(FRAMEWORKS).join(", ")})`); process.exit(2); }

if (!existsSync(join(build, "CMakeCache.txt")))
  execFileSync("cmake", ["-S", repo, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], { stdio: ["ignore", 2, 2] });
log("building rustyssr and rs_shim (cmake, incremental)");
execFileSync("cmake", ["--build", build, "-j2", "--target", "rustyssr", "rs_shim"], { stdio: ["ignore", 2, 2] });
const tmp = mkdtempSync(join(tmpdir(), "rs-frameworks-"));
const renderOne = join(tmp, "render_one");
execFileSync("gcc", ["-O2", `-I${join(repo, "shim")}`, join(repo, "bench", "render_one.c"), "-o", renderOne,
  join(build, "librs_shim.a"), join(libdir, "libnode.so.108"), `-Wl,-rpath,${libdir}`, "-lstdc++", "-lpthread", "-lm"],
  { stdio: ["ignore", 2, 2] });
const bin = join(build, "rustyssr");

const children = new Set();
function cleanup() {
  for (const c of children) try { c.kill("SIGKILL"); } catch { /* gone */ }
  rmSync(tmp, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(130));

// ------------------------------------------------------------------ helpers
const freePort = () => new Promise((res, rej) => {
  const s = createServer();
  s.on("error", rej);
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fetchRaw = (port, path) => new Promise((res, rej) => {
  const req = get({ host: "127.0.0.1", port, path, headers: { accept: "text/html" } }, (r) => {
    const chunks = [];
    r.on("data", (c) => chunks.push(c));
    r.on("end", () => res({ status: r.statusCode, body: Buffer.concat(chunks) }));
  });
  req.on("error", rej);
  req.setTimeout(10000, () => req.destroy(new Error("timeout")));
});
// The first error line(s) of a tool's output, for the table.
const firstError = (text) => {
  const lines = String(text).split("\n").map((l) => l.trim()).filter(Boolean);
  let hit = lines.find((l) => /Error|error:|not defined|failed|cannot/i.test(l)) || lines[0] || "?";
  // no timestamps, pids or this machine's paths in the table
  hit = hit.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: /, "").split(repo + "/").join("").replace(/^rustyssr: /, "");
  return hit.length > 300 ? hit.slice(0, 300) + "…" : hit;
};
const cell = (s) => String(s).replace(/\|/g, "\\|").replace(/\n/g, " ");
function firstDiff(a, b) { // Buffers -> null or a description
  if (a.equals(b)) return null;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const ctx = (buf) => JSON.stringify(buf.subarray(Math.max(0, i - 20), i + 40).toString("utf8"));
  return `first difference at byte ${i} (rustyssr ${a.length} B, node ${b.length} B): rustyssr ${ctx(a)} vs node ${ctx(b)}`;
}
const stats = (v) => {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { min: s[0], med: m, max: s[s.length - 1] };
};
const fmtStats = (v) => { const s = stats(v); return `${Math.round(s.med)} (${Math.round(s.min)}–${Math.round(s.max)})`; };

async function rustyssrPages(name, bundle) {
  const port = await freePort();
  const cfg = join(tmp, `${name}.lua`);
  writeFileSync(cfg, `local ssr = require "rustyssr"
ssr.config { listen = "127.0.0.1:${port}", admin = false, workers = 1, pin = false,
             log = { level = "warn" }, cache = false,
             render = { bundle = ${JSON.stringify(bundle)}, threads = 1, debug = true } }
ssr.route("GET", "/*", { render = { cache = false } })
`);
  const t = spawnSync(bin, ["-t", "-c", cfg], { encoding: "utf8", timeout: 60000 });
  if (t.status !== 0) return { error: `does not load: ${firstError(t.stderr + t.stdout)}` };
  const errlog = join(tmp, `${name}.log`);
  const child = spawn(bin, ["-c", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  try {
    let up = false;
    for (let k = 0; k < 100 && !up && child.exitCode === null; k++) {
      try { await fetchRaw(port, "/catalog/shoes?page=1"); up = true; } catch { await sleep(100); }
    }
    if (!up) return { error: `the gateway did not start: ${firstError(stderr)}` };
    const pages = [];
    for (const u of URLS) {
      const r = await fetchRaw(port, u);
      if (r.status !== 200) {
        const msg = r.body.toString("utf8").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
        // the gateway's log line for this URL, else the debug page's text
        let line = "";
        for (let k = 0; k < 20 && !line; k++) {
          line = stderr.split("\n").find((l) => l.includes(`render error for ${u} `)) || "";
          if (!line) await sleep(100);
        }
        return { error: `${u} answered ${r.status}: ${line ? firstError(line) : msg.slice(0, 300)}` };
      }
      pages.push(r.body);
    }
    return { pages };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
    children.delete(child);
    writeFileSync(errlog, stderr);
  }
}

function nodePages(name, bundle) {
  const dir = join(tmp, `node-${name}`);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(process.execPath, [join(here, "node-render.mjs"), "--out", dir, bundle, ...URLS],
    { encoding: "utf8", timeout: 60000 });
  if (r.error) return { error: `node: ${r.error.message}` };
  if (r.status !== 0) return { error: `node: ${firstError(r.stderr)}` };
  return { pages: URLS.map((_, i) => readFileSync(join(dir, `${i}.html`))) };
}

function timeOne(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: (o.seconds + o.warmup) * 1000 + 60000 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(firstError(r.stderr));
  return JSON.parse(r.stdout.trim().split("\n").pop()).renders_per_s;
}

// ------------------------------------------------------------------ the matrix
const v8rs = (() => { try { return execFileSync(bin, ["-V"], { encoding: "utf8" }).trim().split("\n")[0]; } catch { return "?"; } })();
const load0 = loadavg();
const started = new Date();
const rows = [];
let allOk = true;
for (const name of names) {
  const f = FRAMEWORKS[name];
  const row = { name, label: f.label, size: "", bytes: "", rs: "", nd: "", ratio: "", note: "" };
  rows.push(row);
  log(`${name}: build`);
  let bundle;
  try {
    bundle = await buildBundle(name);
    row.size = `${Math.round(statSync(bundle).size / 1024)} KB`;
  } catch (e) {
    row.bytes = `build failed: ${firstError(e.message)}`; allOk = false; continue;
  }
  log(`${name}: render ${URLS.length} URLs with node and with rustyssr`);
  const nd = nodePages(name, bundle);
  const rs = await rustyssrPages(name, bundle);
  if (nd.error || rs.error) {
    row.bytes = ["rustyssr " + (rs.error || "ok"), nd.error].filter(Boolean).join("; ");
    allOk = false; continue;
  }
  const diffs = URLS.map((u, i) => { const d = firstDiff(rs.pages[i], nd.pages[i]); return d && `${u}: ${d}`; }).filter(Boolean);
  const total = rs.pages.reduce((s, p) => s + p.length, 0);
  if (diffs.length) { row.bytes = `DIFFER on ${diffs.length}/${URLS.length} URLs — ${diffs[0]}`; allOk = false; }
  else row.bytes = `identical (${URLS.length} URLs, ${Math.round(total / URLS.length)} B/page)`;

  log(`${name}: ${o.runs} x ${o.seconds}s each engine, alternated`);
  const a = [], b = [];
  try {
    for (let k = 0; k < o.runs; k++) {
      a.push(timeOne(renderOne, ["--seconds", String(o.seconds), "--warmup", String(o.warmup), "--json", bundle, ...URLS]));
      b.push(timeOne(process.execPath, [...o.nodeFlags, join(here, "node-render.mjs"), "--seconds", String(o.seconds), "--warmup", String(o.warmup), "--json", bundle, ...URLS]));
    }
    row.rs = fmtStats(a); row.nd = fmtStats(b);
    row.ratio = (stats(a).med / stats(b).med).toFixed(2);
  } catch (e) { row.note = `timing failed: ${e.message}`; allOk = false; }
}

// The recipes' bundles: does what Vite, webpack and Rollup produce load and
// render the same bytes in rustyssr as in Node?
if (o.recipes) {
  log("recipes: building with Vite, webpack and Rollup (recipes/build.mjs)");
  const b = spawnSync(process.execPath, [join(here, "recipes", "build.mjs")], { cwd: here, encoding: "utf8" });
  process.stderr.write(b.stdout + b.stderr);
  for (const bundler of ["vite", "webpack", "rollup"]) {
    for (const app of ["react", "vue"]) {
      const name = `${bundler}-${app}`;
      const bundle = join(here, "recipes", "dist", `${name}.js`);
      const row = { name, label: `${app === "react" ? "React (server.edge)" : "Vue"} built by ${bundler} (recipes/)`, size: "", bytes: "" };
      rows.push(row);
      if (!existsSync(bundle)) { row.bytes = "recipe build failed (see recipes/build.mjs)"; allOk = false; continue; }
      row.size = `${Math.round(statSync(bundle).size / 1024)} KB`;
      log(`${name}: render ${URLS.length} URLs with node and with rustyssr`);
      const nd = nodePages(name, bundle);
      const rs = await rustyssrPages(name, bundle);
      if (nd.error || rs.error) { row.bytes = ["rustyssr " + (rs.error || "ok"), nd.error].filter(Boolean).join("; "); allOk = false; continue; }
      const diffs = URLS.map((u, i) => { const d = firstDiff(rs.pages[i], nd.pages[i]); return d && `${u}: ${d}`; }).filter(Boolean);
      if (diffs.length) { row.bytes = `DIFFER on ${diffs.length}/${URLS.length} URLs — ${diffs[0]}`; allOk = false; }
      else row.bytes = `identical (${URLS.length} URLs)`;
    }
  }
}
const load1 = loadavg();

// ------------------------------------------------------------------ report
const out = [];
out.push(`# Framework matrix — ${started.toISOString().slice(0, 16).replace("T", " ")} UTC`, "");
out.push(`${cpus().length} cores (${cpus()[0].model.trim()}); rustyssr: ${v8rs}; node ${process.version} (V8 ${process.versions.v8}). ` +
  `Load average ${load0.map((x) => x.toFixed(2)).join(" ")} before, ${load1.map((x) => x.toFixed(2)).join(" ")} after ` +
  "(other work on the machine counts in both columns alike: runs alternate).", "");
out.push(`Bytes: each of ${URLS.length} URLs (${URLS.map((u) => "`" + u + "`").join(", ")}) rendered by the real gateway over HTTP ` +
  "(cache off) and by Node 20, compared exactly. Renders/s: one isolate in process (bench/render_one.c) against Node 20's " +
  `loop (node-render.mjs${o.nodeFlags.length ? " run with " + o.nodeFlags.join(" ") : ""}), the same URLs in turn, ${o.runs} alternated runs of ${o.seconds} s after ${o.warmup} s of warm-up, median (min–max).`, "");
out.push("| framework | bundle | rustyssr vs Node 20 bytes | rustyssr renders/s | Node 20 renders/s | rustyssr/node |");
out.push("|---|---|---|---|---|---|");
for (const r of rows)
  out.push(`| ${cell(r.label)} | ${r.size} | ${cell(r.bytes)}${r.note ? " " + cell(r.note) : ""} | ${r.rs || "–"} | ${r.nd || "–"} | ${r.ratio || "–"} |`);
console.log(out.join("\n"));
process.exitCode = allOk ? 0 : 1;
