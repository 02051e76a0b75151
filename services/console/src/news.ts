// The News screen: the list (by state, searchable by title) and the editor.
import { ApiError, articleId, NewsApi } from "./api";
import { h } from "./dom";
import type { ArticleJson } from "./gen/civitas/news/v1/news_pb";
import { t } from "./i18n";
import type { Context } from "./screen";
import { canEditNews } from "./session";
import { cityLocalToUtc, formatTime } from "./time";

const STATES = ["DRAFT", "SCHEDULED", "PUBLISHED", "ARCHIVED"];

// Remembered list filters, so that coming back from the editor keeps them.
let filterState = "";
let filterText = "";

function message(kind: "status" | "alert", text: string, ...extra: Node[]): HTMLElement {
  return h("p", { class: `msg msg-${kind}` }, text, ...extra);
}

export function renderList(main: HTMLElement, ctx: Context): void {
  const api = new NewsApi(ctx.session.city, ctx.session.token);
  const editor = canEditNews(ctx.session);
  const status = h("div", { role: "status", class: "live" }, t().loading);
  const body = h("tbody");
  const table = h(
    "table",
    { class: "articles" },
    h("caption", { class: "visually-hidden" }, t().newsTitle),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t().colTitle),
        h("th", { scope: "col" }, t().colState),
        h("th", { scope: "col" }, t().colLanguage),
        h("th", { scope: "col" }, t().colPublish),
        h("th", { scope: "col" }, t().colUpdated),
      ),
    ),
    body,
  );
  const stateSelect = h(
    "select",
    { id: "news-state" },
    h("option", { value: "" }, t().allStates),
    STATES.map((s) => h("option", { value: s }, t().states[s] ?? s)),
  );
  stateSelect.value = filterState;
  const search = h("input", { id: "news-search", type: "search", value: filterText, autocomplete: "off" });
  let articles: ArticleJson[] = [];

  const show = () => {
    const needle = filterText.trim().toLocaleLowerCase();
    const shown = articles.filter(
      (a) =>
        (!filterState || a.state === filterState) &&
        (!needle || (a.title ?? "").toLocaleLowerCase().includes(needle)),
    );
    body.replaceChildren(
      ...shown.map((a) =>
        h(
          "tr",
          {},
          h(
            "td",
            {},
            editor ? h("a", { href: `#/news/${articleId(a)}` }, a.title ?? "") : (a.title ?? ""),
          ),
          h("td", {}, t().states[a.state ?? ""] ?? String(a.state ?? "")),
          h("td", {}, a.languageCode ?? ""),
          h("td", {}, formatTime(a.publishTime, ctx.timeZone)),
          h("td", {}, formatTime(a.updateTime, ctx.timeZone)),
        ),
      ),
    );
    status.textContent = shown.length ? `${shown.length} / ${articles.length}` : t().noArticles;
  };
  stateSelect.addEventListener("change", () => {
    filterState = stateSelect.value;
    show();
  });
  search.addEventListener("input", () => {
    filterText = search.value;
    show();
  });

  main.replaceChildren(
    h("h1", {}, t().newsTitle),
    editor
      ? h("p", {}, h("a", { href: "#/news/new", class: "button", id: "new-article" }, t().newArticle))
      : message("status", t().readOnly),
    h(
      "form",
      { class: "filters", role: "search", onsubmit: (e: Event) => e.preventDefault() },
      h("label", { for: "news-state" }, t().stateFilter),
      stateSelect,
      h("label", { for: "news-search" }, t().search),
      search,
    ),
    h("p", { class: "note" }, t().timeZoneNote(ctx.timeZone)),
    status,
    table,
  );
  (editor ? api.listAll() : api.listPublished())
    .then((list) => {
      articles = list;
      show();
    })
    .catch((e: unknown) => {
      status.textContent = t().error(e instanceof Error ? e.message : String(e));
    });
}

interface Fields {
  title: string;
  teaser: string;
  body: string;
  languageCode: string;
}

// Unsaved text, with the etag of the version it was typed over.
interface Draft extends Fields {
  etag?: string;
}

function draftKey(ctx: Context, id: string): string {
  return `civitas.console.draft.${ctx.session.city}.${id}`;
}

export function renderEditor(main: HTMLElement, ctx: Context, id: string | null): void {
  const api = new NewsApi(ctx.session.city, ctx.session.token);
  let current: ArticleJson | null = null; // what the server has, as last seen
  let name = id;

  const title = h("input", { id: "f-title", name: "title", required: true, maxlength: 200, autocomplete: "off" });
  const teaser = h("textarea", { id: "f-teaser", name: "teaser", rows: 2, maxlength: 500 });
  const body = h("textarea", { id: "f-body", name: "body", rows: 12 });
  const language = h(
    "select",
    { id: "f-language", name: "language" },
    ["de", "en"].map((l) => h("option", { value: l }, t().languages[l] ?? l)),
  );
  language.value = ctx.defaultLanguage === "en" ? "en" : "de";
  const when = h("input", { id: "f-schedule", name: "schedule", type: "datetime-local" });
  const status = h("div", { role: "status", class: "live", id: "editor-status" });
  const alert = h("div", { role: "alert", class: "live", id: "editor-alert" });
  const stateLine = h("p", { id: "editor-state" });
  const heading = h("h1", {}, id ? t().editTitle : t().createTitle);
  const buttons: HTMLButtonElement[] = [];

  const fields = (): Fields => ({
    title: title.value,
    teaser: teaser.value,
    body: body.value,
    languageCode: language.value,
  });
  const fill = (f: Fields) => {
    title.value = f.title;
    teaser.value = f.teaser;
    body.value = f.body;
    language.value = f.languageCode || language.value;
  };
  const keepDraft = () => {
    const draft: Draft = { ...fields(), etag: current?.etag ?? "" };
    localStorage.setItem(draftKey(ctx, name ?? "new"), JSON.stringify(draft));
  };
  const dropDraft = () => localStorage.removeItem(draftKey(ctx, name ?? "new"));
  for (const el of [title, teaser, body, language]) el.addEventListener("input", keepDraft);

  const setBusy = (busy: boolean) => {
    for (const b of buttons) b.disabled = busy;
  };
  const showState = (a: ArticleJson) => {
    stateLine.textContent = t().stateIs(t().states[a.state ?? ""] ?? String(a.state ?? ""));
  };

  const fail = (e: unknown) => {
    status.textContent = "";
    if (e instanceof ApiError && e.conflict) {
      const reload = h("button", { type: "button", id: "reload-keep" }, t().reloadKeep);
      reload.addEventListener("click", () => {
        if (!name) return;
        api
          .get(name)
          .then((latest) => {
            current = latest; // the new etag; the form keeps what the user typed
            keepDraft();
            showState(latest);
            alert.replaceChildren();
            status.textContent = t().reloaded(latest.title ?? "");
            title.focus();
          })
          .catch(fail);
      });
      alert.replaceChildren(message("alert", t().conflict), reload);
      reload.focus();
      return;
    }
    alert.replaceChildren(message("alert", t().error(e instanceof Error ? e.message : String(e))));
  };

  // Creates or updates the article from the form; resolves to the server's copy.
  const save = async (): Promise<ArticleJson> => {
    const f = fields();
    let saved: ArticleJson;
    if (!name) {
      saved = await api.create({ title: f.title, teaser: f.teaser, body: f.body, languageCode: f.languageCode });
      dropDraft();
      name = articleId(saved);
      history.replaceState(null, "", `#/news/${name}`);
      heading.textContent = t().editTitle;
    } else {
      saved = await api.update(
        name,
        { title: f.title, teaser: f.teaser, body: f.body, languageCode: f.languageCode, etag: current?.etag ?? "" },
        ["title", "teaser", "body", "language_code"],
      );
      dropDraft();
    }
    current = saved;
    showState(saved);
    return saved;
  };

  const act = (kind: "save" | "publish" | "schedule") => async (e: Event) => {
    e.preventDefault();
    alert.replaceChildren();
    status.textContent = "";
    if (!title.reportValidity()) return;
    let publishTime: string | null = null;
    if (kind === "schedule") {
      publishTime = cityLocalToUtc(when.value, ctx.timeZone);
      if (!publishTime) {
        alert.replaceChildren(message("alert", t().needSchedule));
        when.focus();
        return;
      }
    }
    setBusy(true);
    try {
      const saved = await save();
      if (kind === "save") {
        status.textContent = t().saved;
      } else {
        const out = await api.publish(articleId(saved), {
          etag: saved.etag ?? "",
          ...(publishTime ? { publishTime } : {}),
        });
        current = out;
        showState(out);
        status.textContent =
          out.state === "SCHEDULED" ? t().scheduled(formatTime(out.publishTime, ctx.timeZone)) : t().published;
      }
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const mk = (label: string, kind: "save" | "publish" | "schedule", id: string) => {
    // No submit button: Enter in a field never publishes by accident.
    const b = h("button", { type: "button", id }, label);
    b.addEventListener("click", act(kind));
    buttons.push(b);
    return b;
  };

  const form = h(
    "form",
    { class: "editor", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "f-title" }, t().fTitle), title),
    h("div", { class: "field" }, h("label", { for: "f-language" }, t().fLanguage), language),
    h("div", { class: "field" }, h("label", { for: "f-teaser" }, t().fTeaser), teaser),
    h("div", { class: "field" }, h("label", { for: "f-body" }, t().fBody), body),
    h("div", { class: "actions" }, mk(t().save, "save", "save"), mk(t().publishNow, "publish", "publish")),
    h(
      "fieldset",
      { class: "schedule" },
      h("legend", {}, t().schedule),
      h("div", { class: "field" }, h("label", { for: "f-schedule" }, t().fSchedule), when),
      mk(t().schedule, "schedule", "schedule-button"),
      h("p", { class: "note" }, t().timeZoneNote(ctx.timeZone)),
    ),
  );
  form.addEventListener("submit", (e) => e.preventDefault());

  main.replaceChildren(
    h("p", {}, h("a", { href: "#/news" }, t().back)),
    heading,
    stateLine,
    alert,
    status,
    form,
  );

  const restore = () => {
    const raw = localStorage.getItem(draftKey(ctx, name ?? "new"));
    if (!raw) return false;
    try {
      const draft = JSON.parse(raw) as Draft;
      fill(draft);
      // Typed over an older version: saving it must meet the conflict, not overwrite silently.
      if (current && draft.etag) current = { ...current, etag: draft.etag };
      status.textContent = t().restored;
      return true;
    } catch {
      return false;
    }
  };

  if (!id) {
    restore();
    title.focus();
    return;
  }
  setBusy(true);
  api
    .get(id)
    .then((a) => {
      current = a;
      fill({ title: a.title ?? "", teaser: a.teaser ?? "", body: a.body ?? "", languageCode: a.languageCode ?? "" });
      showState(a);
      restore();
      title.focus();
    })
    .catch(fail)
    .finally(() => setBusy(false));
}
