// Deterministic catalogue data for the demo page.
//
// Everything here is a pure function of (path, query, props): no Date, no
// Math.random, no Intl, no locale-dependent formatting, so the server bundle
// (in rustyssr's V8 isolates or in Node) and the browser bundle produce the
// very same page for the same URL, byte for byte.

export const CATEGORIES = [
  { slug: "shoes", title: "Обувь", lo: 990, hi: 14990, items: [
    ["Кроссовки", 3], ["Ботинки", 3], ["Кеды", 3], ["Туфли", 3],
    ["Сапоги", 3], ["Лоферы", 3], ["Сандалии", 3], ["Слипоны", 3]] },
  { slug: "electronics", title: "Электроника", lo: 1490, hi: 129990, items: [
    ["Смартфон", 0], ["Наушники", 3], ["Планшет", 0], ["Ноутбук", 0],
    ["Умные часы", 3], ["Колонка", 1], ["Роутер", 0], ["Монитор", 0]] },
  { slug: "clothes", title: "Одежда", lo: 490, hi: 19990, items: [
    ["Футболка", 1], ["Куртка", 1], ["Джинсы", 3], ["Свитер", 0],
    ["Платье", 2], ["Худи", 0], ["Пальто", 2], ["Рубашка", 1]] },
  { slug: "home", title: "Дом и сад", lo: 190, hi: 24990, items: [
    ["Кастрюля", 1], ["Сковорода", 1], ["Плед", 0], ["Подушка", 1],
    ["Лампа", 1], ["Чайник", 0], ["Ваза", 1], ["Полотенце", 2]] },
  { slug: "toys", title: "Игрушки", lo: 290, hi: 9990, items: [
    ["Конструктор", 0], ["Кукла", 1], ["Машинка", 1], ["Пазл", 0],
    ["Мяч", 0], ["Робот", 0], ["Настольная игра", 1], ["Мягкая игрушка", 1]] },
  { slug: "books", title: "Книги", lo: 190, hi: 2990, items: [
    ["Роман", 0], ["Сборник рассказов", 0], ["Энциклопедия", 1], ["Учебник", 0],
    ["Комикс", 0], ["Детектив", 0], ["Альбом", 0], ["Справочник", 0]] },
  { slug: "beauty", title: "Красота", lo: 150, hi: 7990, items: [
    ["Крем", 0], ["Шампунь", 0], ["Парфюм", 0], ["Помада", 1],
    ["Сыворотка", 1], ["Маска", 1], ["Бальзам", 0], ["Тушь", 1]] },
  { slug: "sport", title: "Спорт", lo: 390, hi: 59990, items: [
    ["Велосипед", 0], ["Гантели", 3], ["Коврик", 0], ["Рюкзак", 0],
    ["Самокат", 0], ["Палатка", 1], ["Ракетка", 1], ["Скакалка", 1]] },
];

// adjective forms: [masculine, feminine, neuter, plural]; nouns carry 0..3.
const ADJ = [
  ["чёрный", "чёрная", "чёрное", "чёрные"],
  ["белый", "белая", "белое", "белые"],
  ["классический", "классическая", "классическое", "классические"],
  ["лёгкий", "лёгкая", "лёгкое", "лёгкие"],
  ["компактный", "компактная", "компактное", "компактные"],
  ["премиальный", "премиальная", "премиальное", "премиальные"],
  ["универсальный", "универсальная", "универсальное", "универсальные"],
  ["детский", "детская", "детское", "детские"],
  ["зимний", "зимняя", "зимнее", "зимние"],
  ["новый", "новая", "новое", "новые"],
];

const BRANDS = ["Nordway", "Ладога", "Байкал", "Zarya", "Уют", "Вектор",
  "Polaris", "Северянка", "Techno", "Алтай", "Mirra", "Сокол"];

const BADGES = ["Хит", "Новинка", "Оригинал", "Выгодно"];

// FNV-1a over UTF-16 code units, 32 bits.
export function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// mulberry32: a small, fast, well-mixed 32-bit PRNG.
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

function qval(v) {
  if (Array.isArray(v)) return v.map(String).join(",");
  return v == null ? "" : String(v);
}

// The query with its keys sorted, as a canonical string (the seed input).
export function canonicalQuery(query) {
  if (!query || typeof query !== "object") return "";
  return Object.keys(query).sort()
    .map((k) => k + "=" + qval(query[k]))
    .join("&");
}

// 1234567 -> "1 234 567" with narrow no-break spaces, as Russian shops print.
export function groupDigits(n) {
  const s = String(Math.round(n));
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += "\u202f";
    out += s[i];
  }
  return out;
}

export function rub(n) {
  return groupDigits(n) + "\u00a0₽";
}

// Russian plural: 1 товар, 2 товара, 5 товаров.
export function plural(n, one, few, many) {
  const m10 = n % 10, m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return one;
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
  return many;
}

export const PER_PAGE = 48;
export const SORTS = [
  ["popular", "Популярные"],
  ["cheap", "Дешевле"],
  ["expensive", "Дороже"],
  ["rating", "С высоким рейтингом"],
];

function makeProduct(rnd, cat) {
  const k = Math.floor(rnd() * cat.items.length);
  const [noun, g] = cat.items[k];
  const adj = rnd.pick(ADJ)[g];
  const brand = rnd.pick(BRANDS);
  const model = String.fromCharCode(65 + rnd.int(0, 25)) + rnd.int(1, 99);
  const raw = cat.lo + Math.pow(rnd(), 2.2) * (cat.hi - cat.lo);
  const price = Math.max(90, Math.round(raw / 100) * 100 - 10);
  const off = rnd() < 0.45 ? rnd.int(2, 9) * 5 : 0;
  const p = {
    id: rnd.int(100000, 9999999),
    name: noun + " " + adj + " " + brand + " " + model,
    img: cat.slug + "-" + k,
    price,
    rating: Math.round((3.4 + rnd() * 1.6) * 10) / 10,
    reviews: Math.floor(Math.pow(rnd(), 2) * 12000),
  };
  if (off) p.oldPrice = Math.round(price / (1 - off / 100) / 10) * 10 - 10;
  const b = rnd();
  if (b < 0.18) p.badge = rnd.pick(BADGES);
  if (rnd() < 0.3) p.fast = 1;
  return p;
}

function knownCategory(slug) {
  for (const c of CATEGORIES) if (c.slug === slug) return c;
  return null;
}

function categoryFor(slug) {
  return knownCategory(slug) || CATEGORIES[hash32(slug) % CATEGORIES.length];
}

// The picture of a product card: one per kind of item, made by the build
// (build.mjs: dist/client/i/SLUG-K.svg); a product that came from the API
// without one gets a neutral picture by its id.
export function imageOf(p) {
  return "/assets/i/" + (p.img || "p" + (Math.abs(p.id | 0) % 8)) + ".svg";
}

// The footer's pages: a title and one paragraph each.
export const INFO = {
  "/about": ["О компании", "Ярмарка — демонстрационная витрина: каталог, карточки товаров и корзина, отрисованные на сервере rustyssr и оживлённые в браузере."],
  "/help": ["Помощь", "Выберите товар, нажмите «В корзину» — счётчик в шапке покажет, сколько товаров вы отложили."],
  "/delivery": ["Доставка и оплата", "Товары с пометкой «Завтра» привезём на следующий день. Оплата картой или при получении."],
  "/sell": ["Продавайте на Ярмарке", "Разместите свои товары на витрине: каталог обновляется без перезапуска сервера."],
};

// What a path shows: the site's pages, anything else is "notfound" (the
// server answers it with status 404).
//   /                       home (a catalogue)
//   /catalog, /catalog/SLUG catalogue of a known category
//   /product/ID             one product (the route's props hook fetches it)
//   /search?q=              search results
//   /cart                   the cart
//   /about, /help...        the footer's pages (INFO)
export function pageKind(path, props) {
  if (props && props.notFound) return "notfound";
  const segs = path.split("/").filter(Boolean);
  if (path === "/") return "catalog";
  if (segs[0] === "catalog" && segs.length === 1) return "catalog";
  if (segs[0] === "catalog" && segs.length === 2 && knownCategory(segs[1])) return "catalog";
  if (segs[0] === "product" && segs.length === 2 && /^[1-9][0-9]{0,8}$/.test(segs[1])) return "product";
  if (path === "/search") return "search";
  if (path === "/cart") return "cart";
  if (INFO[path]) return "info";
  return "notfound";
}

// Resolves what the page shows. `props` (from a route's props hook) wins
// field by field; whatever it leaves out is generated from the URL.
//   request: { path, query, params? }
//   props:   { products?, category?, categoryTitle?, page?, pages?, total?, sort? }
export function resolvePage(request, props) {
  props = props || {};
  const path = (request && request.path) || "/";
  const query = (request && request.query) || {};
  const params = (request && request.params) || {};
  const segs = path.split("/").filter(Boolean);
  const kind = pageKind(path, props);
  const slug = String(props.category || params.category || params.slug ||
    (segs[0] === "catalog" && segs[1]) || segs[0] || "all");
  const cat = categoryFor(slug);
  const rnd = prng(hash32(path + "?" + canonicalQuery(query)));
  const catRnd = prng(hash32(slug));
  const pages = props.pages || catRnd.int(6, 60);
  let page = parseInt(props.page != null ? props.page : qval(query.page), 10);
  if (!(page >= 1)) page = 1;
  if (page > pages) page = pages;
  let sort = props.sort || qval(query.sort);
  if (!SORTS.some((s) => s[0] === sort)) sort = "popular";
  let products = props.products;
  if (kind === "notfound" || kind === "cart" || kind === "info") products = [];
  if (!Array.isArray(products) && kind === "product") {
    // Without the API's answer (no props hook): the product from its id.
    const p = makeProduct(prng(hash32(path)), cat);
    p.id = parseInt(segs[1], 10);
    products = [p];
  }
  if (!Array.isArray(products)) {
    products = [];
    for (let i = 0; i < PER_PAGE; i++) products.push(makeProduct(rnd, cat));
    if (sort === "cheap") products.sort((a, b) => a.price - b.price || a.id - b.id);
    else if (sort === "expensive") products.sort((a, b) => b.price - a.price || a.id - b.id);
    else if (sort === "rating") products.sort((a, b) => b.rating - a.rating || a.id - b.id);
  }
  const q = qval(query.q);
  let title = props.categoryTitle || cat.title;
  if (kind === "search") title = q ? "Поиск: «" + q + "»" : "Поиск";
  else if (kind === "cart") title = "Корзина";
  else if (kind === "info") title = INFO[path][0];
  else if (kind === "notfound") title = "Страница не найдена";
  else if (kind === "product" && !props.categoryTitle) title = products[0].name;
  else if (kind === "catalog" && path === "/catalog") title = "Каталог";
  return {
    kind,
    path,
    slug: kind === "catalog" ? slug : "",
    // where the sort and page links of this listing point
    base: kind === "search" ? "/search?q=" + encodeURIComponent(q) : path,
    title,
    page,
    pages,
    total: props.total || (pages - 1) * PER_PAGE + catRnd.int(1, PER_PAGE),
    sort,
    q,
    products,
  };
}
