// The page as React components. Preact renders the same file (built with
// jsxImportSource "preact"): nothing here is specific to either.
import { money, pagerLinks, stars } from "../shared/data.js";

function Header({ title, categories, current }) {
  return (
    <header className="top">
      <a className="logo" href="/">Marketplace</a>
      <nav>
        {categories.map((c) => (
          <a key={c} href={`/catalog/${c}`} className={c === current ? "cat on" : "cat"}>{c}</a>
        ))}
      </nav>
      <h1>{title}</h1>
    </header>
  );
}

function Price({ cents, was, currency }) {
  return (
    <p className="price">
      <span className="now">{currency}{money(cents)}</span>
      {was > 0 && <del className="was">{currency}{money(was)}</del>}
    </p>
  );
}

function Rating({ value, reviews }) {
  return (
    <p className="rating" title={`${value} out of 5`}>
      <span aria-hidden="true">{stars(value)}</span> <span className="n">({reviews} reviews)</span>
    </p>
  );
}

function Badge({ label }) {
  return <li className={`badge badge-${label}`}>{label}</li>;
}

function ItemCard({ item }) {
  return (
    <li className="item" data-id={item.id}>
      <a href={`/item/${item.id}`}><h2>{item.name}</h2></a>
      <p className="brand">by {item.brand}</p>
      <Price cents={item.cents} was={item.was} currency={item.currency} />
      <Rating value={item.rating} reviews={item.reviews} />
      {item.badges.length > 0 && (
        <ul className="badges">{item.badges.map((b) => <Badge key={b} label={b} />)}</ul>
      )}
      <p className="desc">{item.description}</p>
      <p className={item.stock > 0 ? "stock" : "stock out"}>{item.stock > 0 ? `${item.stock} in stock` : "sold out"}</p>
    </li>
  );
}

function Pager({ category, page, pages }) {
  return (
    <nav className="pager">
      {pagerLinks(category, page, pages).map((l) => (
        <a key={l.label} href={l.href} rel={l.rel || undefined} aria-current={l.current ? "page" : undefined}>{l.label}</a>
      ))}
    </nav>
  );
}

export function App({ data }) {
  return (
    <div id="app">
      <Header title={data.title} categories={data.categories} current={data.category} />
      <main>
        <ul className="items">{data.items.map((it) => <ItemCard key={it.id} item={it} />)}</ul>
        <Pager category={data.category} page={data.page} pages={data.pages} />
      </main>
      <footer>{data.items.length} items · page {data.page}</footer>
    </div>
  );
}
