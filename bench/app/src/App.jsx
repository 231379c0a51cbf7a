import { useState } from "preact/hooks";
import { CATEGORIES, SORTS, rub, groupDigits, plural } from "./data.js";

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
        <img src={"/i/" + p.id + ".webp"} alt="" />
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

function pageHref(slug, page, sort) {
  let h = "/catalog/" + slug;
  const qs = [];
  if (sort !== "popular") qs.push("sort=" + sort);
  if (page > 1) qs.push("page=" + page);
  return qs.length ? h + "?" + qs.join("&") : h;
}

function Pager({ slug, page, pages, sort }) {
  const nums = [];
  for (let n = Math.max(1, page - 2); n <= Math.min(pages, page + 2); n++) nums.push(n);
  return (
    <nav class="pg" aria-label="Страницы">
      {page > 1 && <a href={pageHref(slug, page - 1, sort)} rel="prev">← Назад</a>}
      {nums.map((n) => n === page
        ? <b>{n}</b>
        : <a href={pageHref(slug, n, sort)}>{n}</a>)}
      {page < pages && <a href={pageHref(slug, page + 1, sort)} rel="next">Дальше →</a>}
    </nav>
  );
}

export function App({ data }) {
  const [cart, setCart] = useState([]);
  const buy = (id) => setCart((c) => (c.indexOf(id) >= 0 ? c : c.concat(id)));
  const { slug, title, page, pages, total, sort, q, products } = data;
  return (
    <>
      <Header q={q} slug={slug} cart={cart.length} />
      <main class="mn">
        <p class="bc"><a href="/">Главная</a> / <a href="/catalog">Каталог</a> / {title}</p>
        <h1>{title} <sup>{groupDigits(total)} {plural(total, "товар", "товара", "товаров")}</sup></h1>
        <p class="st">
          {SORTS.map(([k, label]) => k === sort
            ? <b>{label}</b>
            : <a href={pageHref(slug, 1, k)}>{label}</a>)}
        </p>
        <ul class="g">
          {products.map((p) => <Card key={p.id} p={p} onBuy={buy} inCart={cart.indexOf(p.id) >= 0} />)}
        </ul>
        <Pager slug={slug} page={page} pages={pages} sort={sort} />
      </main>
      <footer class="ft">
        <a href="/about">О компании</a> <a href="/help">Помощь</a> <a href="/delivery">Доставка и оплата</a> <a href="/sell">Продавайте на Ярмарке</a>
        <p>© 2024 Ярмарка — демонстрационная витрина rustyssr. Цены указаны в рублях.</p>
      </footer>
    </>
  );
}
