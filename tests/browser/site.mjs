// tests/browser/site.mjs — the demo site in a real browser: Debian's Chromium,
// driven by playwright-core (this folder's package-lock.json). Run by
// tests/browser/test_site.py, which starts the gateway on the example config.
//
//   node tests/browser/site.mjs BASE_URL [CHROMIUM]
//
// Loads the home page, a catalogue, a product page (through a card's link)
// and a path the site does not have; on each: no console error, no page
// error, no failed request, no answer >= 400 but the 404 page's own, every
// image decoded, and the page hydrated (a "В корзину" button raises the cart
// counter). Prints one JSON line per page and exits 0 when all hold, 1 with
// the reasons otherwise.
import { chromium } from "playwright-core";

const base = process.argv[2];
const exe = process.argv[3] || process.env.RS_CHROMIUM || "/usr/bin/chromium";
if (!base) {
  console.error("usage: node site.mjs BASE_URL [CHROMIUM]");
  process.exit(2);
}
const TIMEOUT = Number(process.env.RS_BROWSER_TIMEOUT_MS || 30000);

const browser = await chromium.launch({
  executablePath: exe,
  headless: true,
  // Containers run as root without a user namespace for the sandbox.
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
const failures = [];

async function visit(context, path, { status = 200, hydrate = true, follow = null } = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  const responses = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // Chromium reports the document's own 404 in the console: expected there.
    if (status === 404 && /status of 404/.test(m.text()) && (m.location() || {}).url === base + path) return;
    problems.push("console error: " + m.text() + " (" + ((m.location() || {}).url || "?") + ")");
  });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("requestfailed", (r) => problems.push("request failed: " + r.url() + " " + (r.failure() || {}).errorText));
  page.on("response", (r) => responses.push({ url: r.url(), status: r.status(), enc: r.headers()["content-encoding"] || "" }));

  let res = await page.goto(base + path, { waitUntil: "load" });
  if (follow) {                  // a link on the page, as a visitor clicks it
    const href = await page.getAttribute(follow, "href");
    res = await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(follow)]).then((a) => a[0]);
    path = path + " → " + href;
  }
  const main = res.url();
  if (res.status() !== status) problems.push(`status ${res.status()}, expected ${status}`);
  for (const r of responses) {
    if (r.status >= 400 && r.url !== main) problems.push(`${r.url}: status ${r.status}`);
  }
  // Every image decoded (a text/html answer for an image would not be).
  const images = await page.evaluate(async () => {
    const imgs = Array.from(document.images);
    await Promise.all(imgs.map((i) => (i.complete ? null : new Promise((ok) => { i.onload = i.onerror = ok; }))));
    return imgs.map((i) => ({ src: i.currentSrc, ok: i.complete && i.naturalWidth > 0 }));
  });
  for (const i of images) if (!i.ok) problems.push("image not loaded: " + i.src);
  let hydrated = null;
  if (hydrate) {
    const before = await page.textContent(".cart b");
    const buttons = await page.$$(".c button");
    if (buttons.length === 0) {
      problems.push("no product button to click");
    } else {
      await buttons[0].click();
      try {
        await page.waitForFunction((b) => document.querySelector(".cart b").textContent !== b, before,
                                   { timeout: TIMEOUT });
        hydrated = { before, after: await page.textContent(".cart b"),
                     button: await buttons[0].textContent() };
      } catch (e) {
        problems.push(`not hydrated: the cart counter stayed ${before} after a click`);
      }
    }
  }
  const title = await page.title();
  const line = { path, url: page.url(), status: res.status(), title, images: images.length, hydrated,
                 requests: responses.length,
                 coded: responses.filter((r) => r.enc).length, problems };
  console.log(JSON.stringify(line));
  for (const p of problems) failures.push(path + ": " + p);
  await page.close();
}

try {
  const context = await browser.newContext({ extraHTTPHeaders: {} });
  await visit(context, "/");
  await visit(context, "/catalog/shoes?sort=cheap");
  await visit(context, "/catalog/electronics", { follow: ".c a" });   // /p/ID → 301 → /product/ID
  await visit(context, "/no-such-page", { status: 404, hydrate: false });
  await context.close();
} catch (e) {
  failures.push("driver: " + (e && e.stack || e));
} finally {
  await browser.close();
}
if (failures.length) {
  console.error("FAILED:\n  " + failures.join("\n  "));
  process.exit(1);
}
console.log("ok: 4 pages");
