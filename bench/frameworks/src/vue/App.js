// The page as Vue 3 components with render functions (h), so no SFC compiler
// plugin is needed; an app with .vue files adds its bundler's Vue plugin.
import { defineComponent, h } from "vue";
import { money, pagerLinks, stars } from "../shared/data.js";

const Header = defineComponent({
  props: { title: String, categories: Array, current: String },
  setup: (p) => () =>
    h("header", { class: "top" }, [
      h("a", { class: "logo", href: "/" }, "Marketplace"),
      h("nav", p.categories.map((c) => h("a", { key: c, href: `/catalog/${c}`, class: c === p.current ? "cat on" : "cat" }, c))),
      h("h1", p.title),
    ]),
});

const Price = defineComponent({
  props: { cents: Number, was: Number, currency: String },
  setup: (p) => () =>
    h("p", { class: "price" }, [
      h("span", { class: "now" }, p.currency + money(p.cents)),
      p.was > 0 ? h("del", { class: "was" }, p.currency + money(p.was)) : null,
    ]),
});

const Rating = defineComponent({
  props: { value: Number, reviews: Number },
  setup: (p) => () =>
    h("p", { class: "rating", title: `${p.value} out of 5` }, [
      h("span", { "aria-hidden": "true" }, stars(p.value)),
      " ",
      h("span", { class: "n" }, `(${p.reviews} reviews)`),
    ]),
});

const Badge = defineComponent({
  props: { label: String },
  setup: (p) => () => h("li", { class: `badge badge-${p.label}` }, p.label),
});

const ItemCard = defineComponent({
  props: { item: Object },
  setup: (p) => () => {
    const it = p.item;
    return h("li", { class: "item", "data-id": it.id }, [
      h("a", { href: `/item/${it.id}` }, [h("h2", it.name)]),
      h("p", { class: "brand" }, `by ${it.brand}`),
      h(Price, { cents: it.cents, was: it.was, currency: it.currency }),
      h(Rating, { value: it.rating, reviews: it.reviews }),
      it.badges.length > 0 ? h("ul", { class: "badges" }, it.badges.map((b) => h(Badge, { key: b, label: b }))) : null,
      h("p", { class: "desc" }, it.description),
      h("p", { class: it.stock > 0 ? "stock" : "stock out" }, it.stock > 0 ? `${it.stock} in stock` : "sold out"),
    ]);
  },
});

const Pager = defineComponent({
  props: { category: String, page: Number, pages: Number },
  setup: (p) => () =>
    h("nav", { class: "pager" }, pagerLinks(p.category, p.page, p.pages).map((l) =>
      h("a", { key: l.label, href: l.href, rel: l.rel || undefined, "aria-current": l.current ? "page" : undefined }, l.label))),
});

export const App = defineComponent({
  props: { data: Object },
  setup: (p) => () => {
    const d = p.data;
    return h("div", { id: "app" }, [
      h(Header, { title: d.title, categories: d.categories, current: d.category }),
      h("main", [
        h("ul", { class: "items" }, d.items.map((it) => h(ItemCard, { key: it.id, item: it }))),
        h(Pager, { category: d.category, page: d.page, pages: d.pages }),
      ]),
      h("footer", `${d.items.length} items · page ${d.page}`),
    ]);
  },
});
