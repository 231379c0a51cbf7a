// The page as Solid components (compiled by babel-preset-solid with
// generate "ssr").
import { For, Show } from "solid-js";
import { money, pagerLinks, stars } from "../shared/data.js";

function Header(props) {
  return (
    <header class="top">
      <a class="logo" href="/">Marketplace</a>
      <nav>
        <For each={props.categories}>{(c) => <a href={`/catalog/${c}`} class={c === props.current ? "cat on" : "cat"}>{c}</a>}</For>
      </nav>
      <h1>{props.title}</h1>
    </header>
  );
}

function Price(props) {
  return (
    <p class="price">
      <span class="now">{props.currency}{money(props.cents)}</span>
      <Show when={props.was > 0}><del class="was">{props.currency}{money(props.was)}</del></Show>
    </p>
  );
}

function Rating(props) {
  return (
    <p class="rating" title={`${props.value} out of 5`}>
      <span aria-hidden="true">{stars(props.value)}</span> <span class="n">({props.reviews} reviews)</span>
    </p>
  );
}

function Badge(props) {
  return <li class={`badge badge-${props.label}`}>{props.label}</li>;
}

function ItemCard(props) {
  const it = props.item;
  return (
    <li class="item" data-id={it.id}>
      <a href={`/item/${it.id}`}><h2>{it.name}</h2></a>
      <p class="brand">by {it.brand}</p>
      <Price cents={it.cents} was={it.was} currency={it.currency} />
      <Rating value={it.rating} reviews={it.reviews} />
      <Show when={it.badges.length > 0}>
        <ul class="badges"><For each={it.badges}>{(b) => <Badge label={b} />}</For></ul>
      </Show>
      <p class="desc">{it.description}</p>
      <p class={it.stock > 0 ? "stock" : "stock out"}>{it.stock > 0 ? `${it.stock} in stock` : "sold out"}</p>
    </li>
  );
}

function Pager(props) {
  return (
    <nav class="pager">
      <For each={pagerLinks(props.category, props.page, props.pages)}>
        {(l) => <a href={l.href} rel={l.rel || undefined} aria-current={l.current ? "page" : undefined}>{l.label}</a>}
      </For>
    </nav>
  );
}

export function App(props) {
  const d = props.data;
  return (
    <div id="app">
      <Header title={d.title} categories={d.categories} current={d.category} />
      <main>
        <ul class="items"><For each={d.items}>{(it) => <ItemCard item={it} />}</For></ul>
        <Pager category={d.category} page={d.page} pages={d.pages} />
      </main>
      <footer>{d.items.length} items · page {d.page}</footer>
    </div>
  );
}
