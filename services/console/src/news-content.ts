// The editor's translations and images: lists of small forms whose values are the article's
// `localizations` and `images`, kept in the draft like every other field.
import { h } from "./dom";
import type { ImageJson, LocalizationJson } from "./gen/civitas/news/v1/news_pb";
import { t } from "./i18n";

// Languages offered for translations (the article's own language is not offered again).
const LANGUAGES = ["de", "en", "tr", "ar", "uk", "pl", "ru", "fr"];

export interface ListEditor<T> {
  element: HTMLElement;
  value(): T[];
  set(list: T[]): void;
}

let counter = 0;

export function translationsEditor(onChange: () => void, mainLanguage: () => string): ListEditor<LocalizationJson> {
  let list: LocalizationJson[] = [];
  const items = h("div", { id: "f-translations" });
  const add = h("button", { type: "button", id: "add-translation", class: "secondary" }, t().addTranslation);
  // focus: the index of the translation whose language select gets the focus (-1: the last).
  const render = (focus?: number) => {
    items.replaceChildren(
      ...list.map((l, i) => {
        const n = ++counter;
        const lang = l.languageCode ?? "";
        const name = t().languages[lang] ?? lang;
        const select = h(
          "select",
          { id: `f-loc-${n}-lang` },
          LANGUAGES.filter((x) => x === lang || (x !== mainLanguage() && !list.some((o) => o.languageCode === x))).map(
            (x) => h("option", { value: x, selected: x === lang }, t().languages[x] ?? x),
          ),
        );
        const title = h("input", { id: `f-loc-${n}-title`, required: true, maxlength: 200, autocomplete: "off", value: l.title ?? "" });
        const teaser = h("textarea", { id: `f-loc-${n}-teaser`, rows: 2, maxlength: 500 });
        teaser.value = l.teaser ?? "";
        const body = h("textarea", { id: `f-loc-${n}-body`, rows: 6 });
        body.value = l.body ?? "";
        const sync = () => {
          list[i] = { languageCode: select.value, title: title.value, teaser: teaser.value, body: body.value };
          onChange();
        };
        for (const el of [title, teaser, body]) el.addEventListener("input", sync);
        select.addEventListener("change", () => {
          sync();
          render(i); // the other selects offer other languages now; the focus stays here
        });
        const remove = h("button", { type: "button", class: "secondary" }, t().removeTranslation(name));
        remove.addEventListener("click", () => {
          list.splice(i, 1);
          onChange();
          render();
          add.focus();
        });
        return h(
          "fieldset",
          { class: "translation", "data-language": lang },
          h("legend", {}, t().translationIn(name)),
          h("div", { class: "field" }, h("label", { for: select.id }, t().fTranslationLanguage), select),
          h("div", { class: "field" }, h("label", { for: title.id }, `${t().fTitle} (${name})`), title),
          h("div", { class: "field" }, h("label", { for: teaser.id }, `${t().fTeaser} (${name})`), teaser),
          h("div", { class: "field" }, h("label", { for: body.id }, `${t().fBody} (${name})`), body),
          remove,
        );
      }),
    );
    if (focus !== undefined) {
      const selects = items.querySelectorAll<HTMLSelectElement>("fieldset > .field > select");
      selects[focus < 0 ? selects.length - 1 : focus]?.focus();
    }
    add.disabled = free().length === 0;
  };
  const free = () => LANGUAGES.filter((x) => x !== mainLanguage() && !list.some((o) => o.languageCode === x));
  add.addEventListener("click", () => {
    const next = free()[0];
    if (!next) return;
    list.push({ languageCode: next, title: "", teaser: "", body: "" });
    onChange();
    render(-1);
  });
  const element = h(
    "fieldset",
    { class: "translations" },
    h("legend", {}, t().translations),
    h("p", { class: "note" }, t().translationsNote),
    items,
    add,
  );
  return {
    element,
    value: () => list.map((l) => ({ ...l })),
    set: (v) => {
      list = v.map((l) => ({ languageCode: l.languageCode ?? "", title: l.title ?? "", teaser: l.teaser ?? "", body: l.body ?? "" }));
      render();
    },
  };
}

export function imagesEditor(onChange: () => void): ListEditor<ImageJson> {
  let list: ImageJson[] = [];
  const items = h("div", { id: "f-images" });
  const add = h("button", { type: "button", id: "add-image", class: "secondary" }, t().addImage);
  const render = (focusLast = false) => {
    items.replaceChildren(
      ...list.map((img, i) => {
        const n = ++counter;
        const url = h("input", { id: `f-img-${n}-url`, type: "url", required: true, autocomplete: "off", value: img.url ?? "" });
        const alt = h("input", { id: `f-img-${n}-alt`, required: true, maxlength: 300, autocomplete: "off", value: img.altText ?? "" });
        const rights = h("input", { id: `f-img-${n}-rights`, maxlength: 200, autocomplete: "off", value: img.copyright ?? "" });
        const sync = () => {
          list[i] = { url: url.value, altText: alt.value, copyright: rights.value };
          onChange();
        };
        for (const el of [url, alt, rights]) el.addEventListener("input", sync);
        const remove = h("button", { type: "button", class: "secondary" }, t().removeImage(i + 1));
        remove.addEventListener("click", () => {
          list.splice(i, 1);
          onChange();
          render();
          add.focus();
        });
        return h(
          "fieldset",
          { class: "image" },
          h("legend", {}, t().imageN(i + 1)),
          h("div", { class: "field" }, h("label", { for: url.id }, `${t().fImageUrl} – ${t().imageN(i + 1)}`), url),
          h("div", { class: "field" }, h("label", { for: alt.id }, `${t().fImageAlt} – ${t().imageN(i + 1)}`), alt),
          h("div", { class: "field" }, h("label", { for: rights.id }, `${t().fImageCopyright} – ${t().imageN(i + 1)}`), rights),
          remove,
        );
      }),
    );
    if (focusLast) items.querySelector<HTMLInputElement>("fieldset:last-child input")?.focus();
    add.disabled = list.length >= 10;
  };
  add.addEventListener("click", () => {
    if (list.length >= 10) return;
    list.push({ url: "", altText: "", copyright: "" });
    onChange();
    render(true);
  });
  const element = h("fieldset", { class: "images" }, h("legend", {}, t().images), h("p", { class: "note" }, t().imagesNote), items, add);
  return {
    element,
    value: () => list.map((x) => ({ ...x })),
    set: (v) => {
      list = v.map((x) => ({ url: x.url ?? "", altText: x.altText ?? "", copyright: x.copyright ?? "" }));
      render();
    },
  };
}
