import { useState } from "preact/hooks";
import { CATEGORIES, INFO, SORTS, imageOf, rub, groupDigits, plural } from "./data.js";

function Header({ q, slug, cart }) {
  return (
    <header class="hd">
      <a class="logo" href="/">Ярмарка</a>
      <form class="srch" action="/search" role="search">
        <input name="q" type="search" value={q} placeholder="Искать на Ярмарке" aria-label="Поиск" />
        <button>Найти</button>
      </form>
      <a class="cart" href="/cart">Корзина <b>{cart}</b></a>
      <nav class="nav">
        {CATEGORIES.map((c) => (
          <a href={"/catalog/" + c.slug} class={c.slug === slug ? "on" : undefined}>{c.title}</a>
        ))}
      </nav>
    </header>
  );
}

function Stars({ rating, reviews }) {
  const full = Math.round(rating || 0);
  return (
    <i class="r" title={"Рейтинг " + rating}>
      {"★★★★★".slice(0, full)}{full < 5 ? <u>{"★★★★★".slice(full)}</u> : null} {groupDigits(reviews || 0)}
    </i>
  );
}

function Card({ p, onBuy, inCart }) {
  const href = "/p/" + p.id;
  return (
    <li class="c">
      <a href={href}>
        <img src={imageOf(p)} alt="" width="200" height="260" />
        {p.badge ? <em>{p.badge}</em> : null}
        <b>{rub(p.price)}</b>
        {p.oldPrice ? <s>{rub(p.oldPrice)}</s> : null}
        <span>{p.name}</span>
      </a>
      <Stars rating={p.rating} reviews={p.reviews} />
      {p.fast ? <small>Завтра</small> : null}
      <button onClick={() => onBuy(p.id)}>{inCart ? "В корзине" : "В корзину"}</button>
    </li>
  );
}

function pageHref(base, page, sort) {
  const qs = [];
  if (sort !== "popular") qs.push("sort=" + sort);
  if (page > 1) qs.push("page=" + page);
  return qs.length ? base + (base.indexOf("?") >= 0 ? "&" : "?") + qs.join("&") : base;
}

function Pager({ base, page, pages, sort }) {
  const nums = [];
  for (let n = Math.max(1, page - 2); n <= Math.min(pages, page + 2); n++) nums.push(n);
  return (
    <nav class="pg" aria-label="Страницы">
      {page > 1 && <a href={pageHref(base, page - 1, sort)} rel="prev">← Назад</a>}
      {nums.map((n) => n === page
        ? <b>{n}</b>
        : <a href={pageHref(base, n, sort)}>{n}</a>)}
      {page < pages && <a href={pageHref(base, page + 1, sort)} rel="next">Дальше →</a>}
    </nav>
  );
}

function Listing({ data, cart, buy }) {
  const { base, title, page, pages, total, sort, products } = data;
  return (
    <>
      <h1>{title} <sup>{groupDigits(total)} {plural(total, "товар", "товара", "товаров")}</sup></h1>
      <p class="st">
        {SORTS.map(([k, label]) => k === sort
          ? <b>{label}</b>
          : <a href={pageHref(base, 1, k)}>{label}</a>)}
      </p>
      <ul class="g">
        {products.map((p) => <Card key={p.id} p={p} onBuy={buy} inCart={cart.indexOf(p.id) >= 0} />)}
      </ul>
      <Pager base={base} page={page} pages={pages} sort={sort} />
    </>
  );
}

function Product({ data, cart, buy }) {
  const p = data.products[0];
  return (
    <>
      <h1>{data.title}</h1>
      <ul class="g one">
        <Card key={p.id} p={p} onBuy={buy} inCart={cart.indexOf(p.id) >= 0} />
      </ul>
    </>
  );
}

function Cart({ cart }) {
  return (
    <>
      <h1>Корзина</h1>
      <p class="msg">{cart.length
        ? groupDigits(cart.length) + " " + plural(cart.length, "товар", "товара", "товаров") + " в корзине"
        : "В корзине пока пусто. "}<a href="/">За покупками →</a></p>
    </>
  );
}

function NotFound() {
  return (
    <>
      <h1>Страница не найдена</h1>
      <p class="msg">Такой страницы на Ярмарке нет. Загляните на <a href="/">главную</a> или в
        {" "}<a href="/catalog">каталог</a>.</p>
    </>
  );
}

const CRUMB = { catalog: null, search: "Поиск", cart: "Корзина", notfound: "404", product: "Товар", info: null };

export function App({ data }) {
  const [cart, setCart] = useState([]);
  const buy = (id) => setCart((c) => (c.indexOf(id) >= 0 ? c : c.concat(id)));
  const { kind, slug, title, q } = data;
  let main;
  if (kind === "product") main = <Product data={data} cart={cart} buy={buy} />;
  else if (kind === "cart") main = <Cart cart={cart} />;
  else if (kind === "notfound") main = <NotFound />;
  else if (kind === "info") main = <><h1>{title}</h1><p class="msg">{INFO[data.path][1]}</p></>;
  else main = <Listing data={data} cart={cart} buy={buy} />;
  return (
    <>
      <Header q={q} slug={slug} cart={cart.length} />
      <main class="mn">
        <p class="bc"><a href="/">Главная</a> / <a href="/catalog">Каталог</a> / {CRUMB[kind] || title}</p>
        {main}
      </main>
      <footer class="ft">
        <a href="/about">О компании</a> <a href="/help">Помощь</a> <a href="/delivery">Доставка и оплата</a> <a href="/sell">Продавайте на Ярмарке</a>
        <p>© 2024 Ярмарка — демонстрационная витрина rustyssr. Цены указаны в рублях.</p>
      </footer>
    </>
  );
}
