// The page every framework renders: a catalogue page of 50 items, derived
// deterministically from the request (category from the path, ?page=N), so
// that rustyssr and Node render the same bytes. No Intl, no Date, no
// Math.random: nothing that may differ between two V8 versions.
export const CATEGORIES = ["shoes", "electronics", "clothes", "home", "toys", "books", "beauty", "sport"];
const BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark & Sons", "Wayne <Co>", "Café Noir"];
const NOUNS = ["runner", "lamp", "jacket", "kettle", "robot", "novel", "serum", "racket", "speaker", "chair"];
const ADJ = ["classic", "ultra", "eco", "smart", "vintage", "compact", "deluxe", "\"pro\""];
const BADGES = ["new", "sale", "eco", "limited", "bestseller"];
export const PER_PAGE = 50;
export const PAGES = 40;

function seedOf(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function rng(seed) { // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// 123456 cents -> "1,234.56"
export function money(cents) {
  const s = String(Math.floor(cents / 100));
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += ",";
    out += s[i];
  }
  return out + "." + String(cents % 100).padStart(2, "0");
}

export function pageData(request) {
  const m = /^\/catalog\/([a-z]+)/.exec(request.path || "/");
  const category = m && CATEGORIES.includes(m[1]) ? m[1] : "shoes";
  const q = request.query && request.query.page;
  let page = parseInt(Array.isArray(q) ? q[0] : q, 10);
  if (!(page >= 1)) page = 1;
  if (page > PAGES) page = PAGES;
  const r = rng(seedOf(category + "/" + page));
  const items = [];
  for (let i = 0; i < PER_PAGE; i++) {
    const id = (page - 1) * PER_PAGE + i + 1;
    const cents = 499 + Math.floor(r() * 250000);
    const sale = r() < 0.25;
    const badges = BADGES.filter(() => r() < 0.3);
    items.push({
      id,
      name: `${ADJ[Math.floor(r() * ADJ.length)]} ${NOUNS[Math.floor(r() * NOUNS.length)]} #${id}`,
      brand: BRANDS[Math.floor(r() * BRANDS.length)],
      cents,
      was: sale ? Math.floor(cents * 1.25) : 0,
      currency: "€",
      rating: Math.round(r() * 10) / 2,
      reviews: Math.floor(r() * 5000),
      badges,
      stock: Math.floor(r() * 4) * 7,
      description: `A ${category} item for every day & night: <${BRANDS[i % BRANDS.length]}> quality, ships in ${1 + (i % 5)} days.`,
    });
  }
  return {
    title: `${category[0].toUpperCase()}${category.slice(1)} — page ${page} of ${PAGES}`,
    category,
    categories: CATEGORIES,
    page,
    pages: PAGES,
    items,
  };
}

// Pager links: first, previous, a window of 5 around the page, next, last.
export function pagerLinks(category, page, pages) {
  const links = [];
  const add = (n, label, rel) => links.push({ href: `/catalog/${category}?page=${n}`, label, rel, current: n === page });
  if (page > 1) add(1, "« first", "first"), add(page - 1, "‹ prev", "prev");
  for (let n = Math.max(1, page - 2); n <= Math.min(pages, page + 2); n++) add(n, String(n), "");
  if (page < pages) add(page + 1, "next ›", "next"), add(pages, "last »", "last");
  return links;
}

export function stars(rating) {
  let s = "";
  for (let i = 1; i <= 5; i++) s += rating >= i ? "★" : rating >= i - 0.5 ? "⯪" : "☆";
  return s;
}

// The document around the framework's output (the same for all of them).
const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
export function shell(data, body, head = "") {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(data.title)}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">${head}</head>` +
    `<body>${body}</body></html>`;
}
