// The News screen: the list (by state, searchable by title) and the editor.
import { ApiError, articleId, NewsApi } from "./api";
import { h } from "./dom";
import type { ArticleJson, CategoryJson, ImageJson, LocalizationJson } from "./gen/civitas/news/v1/news_pb";
import { t } from "./i18n";
import { imagesEditor, translationsEditor } from "./news-content";
import { historyPanel, reviewPanel } from "./news-review";
import { errorText, type Context } from "./screen";
import { canEditNews } from "./session";
import { cityLocalToUtc, formatTime, utcToCityLocal } from "./time";

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
        editor ? h("th", { scope: "col", class: "col-select" }, h("span", { class: "visually-hidden" }, t().select)) : null,
        h("th", { scope: "col" }, t().colTitle),
        h("th", { scope: "col" }, t().colState),
        h("th", { scope: "col", class: "col-language" }, t().colLanguage),
        h("th", { scope: "col" }, t().colPublish),
        h("th", { scope: "col", class: "col-updated" }, t().colUpdated),
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
  const selected = new Set<string>();
  const bulkStatus = h("div", { role: "status", class: "live", id: "bulk-status" });
  const bulk = h("button", { type: "button", id: "bulk-archive", disabled: true }, t().archiveSelected);
  const load = () =>
    (editor ? api.listAll() : api.listPublished())
      .then((list) => {
        articles = list;
        show();
      })
      .catch((e: unknown) => {
        status.textContent = errorText(e);
      });
  // Archives one by one with each article's etag: one that changed meanwhile is reported, not
  // overwritten.
  bulk.addEventListener("click", () => {
    const chosen = articles.filter((a) => selected.has(articleId(a)));
    if (!chosen.length) return;
    bulk.disabled = true;
    bulkStatus.textContent = t().archiving(chosen.length);
    void (async () => {
      const failed: string[] = [];
      for (const a of chosen) {
        try {
          await api.update(articleId(a), { state: "ARCHIVED", etag: a.etag ?? "" }, ["state"]);
          selected.delete(articleId(a));
        } catch (e) {
          failed.push(`${a.title ?? ""}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      bulkStatus.textContent = t().archived(chosen.length - failed.length, failed);
      await load();
      bulk.disabled = selected.size === 0;
    })();
  });

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
          editor
            ? h(
                "td",
                { class: "col-select" },
                h("input", {
                  type: "checkbox",
                  class: "select-article",
                  id: `select-${articleId(a)}`,
                  "data-id": articleId(a),
                  checked: selected.has(articleId(a)),
                  onchange: (e: Event) => {
                    const box = e.target as HTMLInputElement;
                    if (box.checked) selected.add(articleId(a));
                    else selected.delete(articleId(a));
                    bulk.disabled = selected.size === 0;
                  },
                }),
                h("label", { for: `select-${articleId(a)}`, class: "visually-hidden" }, t().selectArticle(a.title ?? "")),
              )
            : null,
          h(
            "td",
            {},
            editor ? h("a", { href: `#/news/${articleId(a)}` }, a.title ?? "") : (a.title ?? ""),
            a.pinned ? h("span", { class: "pin" }, ` · ${t().pinnedBadge}`) : null,
            // Four-eyes review: what a second editor still has to approve, and what is approved.
            a.reviewRequired && a.state === "DRAFT"
              ? h("span", { class: "pin review-badge" }, ` · ${a.approveTime ? t().approvedBadge : t().awaitingApproval}`)
              : null,
          ),
          h("td", {}, t().states[a.state ?? ""] ?? String(a.state ?? "")),
          h("td", { class: "col-language" }, a.languageCode ?? ""),
          h("td", {}, formatTime(a.publishTime, ctx.timeZone)),
          h("td", { class: "col-updated" }, formatTime(a.updateTime, ctx.timeZone)),
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
      ? h("p", { class: "actions" }, h("a", { href: "#/news/new", class: "button", id: "new-article" }, t().newArticle), bulk)
      : message("status", t().readOnly),
    ...(editor ? [bulkStatus] : []),
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
  void load();
}

interface Fields {
  title: string;
  teaser: string;
  body: string;
  languageCode: string;
  categories?: string[];
  tags?: string;
  pinned?: boolean;
  expire?: string; // datetime-local, city time
  localizations?: LocalizationJson[];
  images?: ImageJson[];
}

// "Radweg, Innenstadt" -> ["Radweg", "Innenstadt"]
const tagList = (text: string) => text.split(",").map((x) => x.trim()).filter(Boolean);

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
  const tags = h("input", { id: "f-tags", name: "tags", autocomplete: "off", "aria-describedby": "f-tags-hint" });
  const pinned = h("input", { id: "f-pinned", name: "pinned", type: "checkbox" });
  const expire = h("input", { id: "f-expire", name: "expire", type: "datetime-local", "aria-describedby": "f-expire-hint" });
  const categoryBoxes = h("div", { class: "days", id: "f-categories" });
  // Translations and images report their changes like the other fields (draft, preview).
  const changed = () => {
    keepDraft();
    renderPreview();
  };
  const translations = translationsEditor(() => changed(), () => language.value);
  const images = imagesEditor(() => changed());
  let categories: CategoryJson[] = [];
  const checkedCategories = () =>
    [...categoryBoxes.querySelectorAll<HTMLInputElement>("input:checked")].map((b) => b.value);
  const showCategories = (chosen: string[]) => {
    categoryBoxes.replaceChildren(
      ...categories.map((c) =>
        h(
          "span",
          { class: "check" },
          h("input", { type: "checkbox", id: `f-cat-${c.id ?? ""}`, value: c.id ?? "", checked: chosen.includes(c.id ?? "") }),
          h("label", { for: `f-cat-${c.id ?? ""}` }, c.displayName ?? c.id ?? ""),
        ),
      ),
    );
  };
  const previewBox = h("div", { class: "preview-card", id: "preview" });
  const previewSection = h(
    "section",
    { "aria-labelledby": "preview-heading", class: "preview", hidden: true },
    h("h2", { id: "preview-heading" }, t().previewTitle),
    previewBox,
  );
  const previewToggle = h("button", { type: "button", id: "preview-toggle", "aria-expanded": "false", "aria-controls": "preview", class: "secondary" }, t().preview);
  const status = h("div", { role: "status", class: "live", id: "editor-status" });
  const alert = h("div", { role: "alert", class: "live", id: "editor-alert" });
  const stateLine = h("p", { id: "editor-state" });
  const heading = h("h1", {}, id ? t().editTitle : t().createTitle);
  const buttons: HTMLButtonElement[] = [];
  const historyView = historyPanel(ctx, api);
  const review = reviewPanel(
    ctx,
    api,
    () => current,
    (a) => {
      current = { ...a };
      showState(a);
      status.textContent = t().approved;
      refreshHistory();
    },
    (e) => fail(e),
  );

  const fields = (): Fields => ({
    title: title.value,
    teaser: teaser.value,
    body: body.value,
    languageCode: language.value,
    categories: checkedCategories(),
    tags: tags.value,
    pinned: pinned.checked,
    expire: expire.value,
    localizations: translations.value(),
    images: images.value(),
  });
  let pendingCategories: string[] = [];
  const fill = (f: Fields) => {
    title.value = f.title;
    teaser.value = f.teaser;
    body.value = f.body;
    language.value = f.languageCode || language.value;
    pendingCategories = f.categories ?? [];
    showCategories(pendingCategories);
    tags.value = f.tags ?? "";
    pinned.checked = !!f.pinned;
    expire.value = f.expire ?? "";
    translations.set(f.localizations ?? []);
    images.set(f.images ?? []);
    renderPreview();
  };
  const fromArticle = (a: ArticleJson): Fields => ({
    title: a.title ?? "",
    teaser: a.teaser ?? "",
    body: a.body ?? "",
    languageCode: a.languageCode ?? "",
    categories: a.categories ?? [],
    tags: (a.tags ?? []).join(", "),
    pinned: !!a.pinned,
    expire: utcToCityLocal(a.expireTime, ctx.timeZone),
    localizations: a.localizations ?? [],
    images: a.images ?? [],
  });
  // As the app shows an article: date, categories, title, teaser, then the text by paragraph.
  const renderPreview = () => {
    const f = fields();
    const names = (f.categories ?? []).map((id) => categories.find((c) => c.id === id)?.displayName ?? id);
    previewBox.replaceChildren(
      ...([
      h("p", { class: "preview-meta" }, [f.pinned ? t().pinnedBadge : "", formatTime(current?.publishTime ?? new Date().toISOString(), ctx.timeZone), ...names].filter(Boolean).join(" · ")),
      h("h3", { class: "preview-title" }, f.title || t().untitled),
      f.teaser ? h("p", { class: "preview-teaser" }, f.teaser) : null,
      // The console's CSP loads no image from another host: the preview names them.
      ...(f.images ?? []).filter((i) => i.url).map((i) => h("p", { class: "preview-image" }, t().previewImage(i.altText || i.url || ""))),
      ...f.body.split(/\n\s*\n/).filter((p) => p.trim()).map((p) => h("p", {}, p)),
      tagList(f.tags ?? "").length ? h("p", { class: "note" }, tagList(f.tags ?? "").map((x) => `#${x}`).join(" ")) : null,
      ] as (HTMLElement | null)[]).filter((x): x is HTMLElement => x !== null),
    );
  };
  previewToggle.addEventListener("click", () => {
    const open = previewSection.hidden;
    previewSection.hidden = !open;
    previewToggle.setAttribute("aria-expanded", String(open));
    previewToggle.textContent = open ? t().hidePreview : t().preview;
    if (open) renderPreview();
  });
  const keepDraft = () => {
    const draft: Draft = { ...fields(), etag: current?.etag ?? "" };
    localStorage.setItem(draftKey(ctx, name ?? "new"), JSON.stringify(draft));
  };
  const dropDraft = () => localStorage.removeItem(draftKey(ctx, name ?? "new"));
  for (const el of [title, teaser, body, language, tags, pinned, expire, categoryBoxes]) {
    el.addEventListener("input", keepDraft);
    el.addEventListener("input", renderPreview);
    el.addEventListener("change", keepDraft);
    el.addEventListener("change", renderPreview);
  }

  const setBusy = (busy: boolean) => {
    for (const b of buttons) b.disabled = busy;
  };
  const showState = (a: ArticleJson) => {
    stateLine.textContent = t().stateIs(t().states[a.state ?? ""] ?? String(a.state ?? ""));
    review.show(a);
  };

  function fail(e: unknown): void {
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
    alert.replaceChildren(message("alert", errorText(e)));
  }

  // Creates or updates the article from the form; resolves to the server's copy.
  // The article's writable fields from the form; the expiry in UTC (null: the field is malformed).
  const articleOf = (f: Fields): ArticleJson | null => {
    const a: ArticleJson = {
      title: f.title,
      teaser: f.teaser,
      body: f.body,
      languageCode: f.languageCode,
      categories: f.categories ?? [],
      tags: tagList(f.tags ?? ""),
      pinned: !!f.pinned,
      localizations: f.localizations ?? [],
      images: f.images ?? [],
    };
    if (f.expire) {
      const at = cityLocalToUtc(f.expire, ctx.timeZone);
      if (!at) return null;
      a.expireTime = at;
    }
    return a;
  };
  const save = async (): Promise<ArticleJson> => {
    const f = fields();
    const article = articleOf(f);
    if (!article) throw new Error(t().badExpire);
    let saved: ArticleJson;
    if (!name) {
      saved = await api.create(article);
      dropDraft();
      name = articleId(saved);
      history.replaceState(null, "", `#/news/${name}`);
      heading.textContent = t().editTitle;
    } else {
      saved = await api.update(name, { ...article, etag: current?.etag ?? "" }, [
        "title",
        "teaser",
        "body",
        "language_code",
        "categories",
        "tags",
        "pinned",
        "expire_time",
        "localizations",
        "images",
      ]);
      dropDraft();
    }
    current = saved;
    showState(saved);
    return saved;
  };
  const refreshHistory = () => {
    if (name) void historyView.load(name).catch(() => undefined);
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
        refreshHistory();
      } else {
        const out = await api.publish(articleId(saved), {
          etag: saved.etag ?? "",
          ...(publishTime ? { publishTime } : {}),
        });
        current = out;
        showState(out);
        status.textContent =
          out.state === "SCHEDULED" ? t().scheduled(formatTime(out.publishTime, ctx.timeZone)) : t().published;
        refreshHistory();
      }
    } catch (err) {
      fail(err);
      refreshHistory();
    } finally {
      setBusy(false);
    }
  };

  // A new draft with the form's content; the original stays as it is.
  const duplicate = h("button", { type: "button", id: "duplicate", class: "secondary", hidden: !id }, t().duplicate);
  duplicate.addEventListener("click", () => {
    alert.replaceChildren();
    const article = articleOf(fields());
    if (!article) {
      alert.replaceChildren(message("alert", t().badExpire));
      return;
    }
    setBusy(true);
    api
      .create({ ...article, title: t().copyOf(article.title ?? ""), pinned: false })
      .then((copy) => {
        ctx.navigate(`#/news/${articleId(copy)}`);
        // The new editor says what happened.
        setTimeout(() => {
          const s = document.getElementById("editor-status");
          if (s) s.textContent = t().duplicated;
        }, 0);
      })
      .catch(fail)
      .finally(() => setBusy(false));
  });
  buttons.push(duplicate);

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
    translations.element,
    images.element,
    h("fieldset", {}, h("legend", {}, t().fCategories), categoryBoxes),
    h(
      "div",
      { class: "field" },
      h("label", { for: "f-tags" }, t().fTags),
      tags,
      h("p", { class: "note", id: "f-tags-hint" }, t().tagsHint),
    ),
    h("div", { class: "check" }, pinned, h("label", { for: "f-pinned" }, t().fPinned)),
    h(
      "div",
      { class: "field" },
      h("label", { for: "f-expire" }, t().fExpire),
      expire,
      h("p", { class: "note", id: "f-expire-hint" }, t().expireHint),
    ),
    h("div", { class: "actions" }, mk(t().save, "save", "save"), mk(t().publishNow, "publish", "publish"), previewToggle, duplicate),
    previewSection,
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
    review.element,
    form,
    historyView.element,
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

  // Categories come from the city's list; boxes already ticked (a draft, the article) stay so.
  api
    .categories(ctx.defaultLanguage === "en" ? "en" : "de")
    .then((list) => {
      categories = list;
      const chosen = checkedCategories();
      showCategories(chosen.length ? chosen : pendingCategories);
      renderPreview();
    })
    .catch(() => {
      // Without the list the article keeps the categories it has.
    });
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
      fill(fromArticle(a));
      showState(a);
      restore();
      refreshHistory();
      title.focus();
    })
    .catch(fail)
    .finally(() => {
      setBusy(false);
      duplicate.hidden = false;
    });
}
