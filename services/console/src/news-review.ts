// The editor's four-eyes review (approve, in cities that require it) and the article's history:
// who changed what and when, as the news module records it.
import { articleId, type NewsApi } from "./api";
import { h } from "./dom";
import type { ArticleHistoryEntryJson, ArticleJson } from "./gen/civitas/news/v1/news_pb";
import { t } from "./i18n";
import type { Context } from "./screen";
import { formatTime } from "./time";

export interface ReviewPanel {
  element: HTMLElement;
  show(a: ArticleJson): void;
}

// `current` gives the article as last seen; `approved` receives the server's copy.
export function reviewPanel(
  ctx: Context,
  api: NewsApi,
  current: () => ArticleJson | null,
  approved: (a: ArticleJson) => void,
  fail: (e: unknown) => void,
): ReviewPanel {
  const line = h("p", { id: "review-state" });
  const hint = h("p", { class: "note", id: "review-hint", hidden: true }, t().cannotApprove);
  const button = h("button", { type: "button", id: "approve" }, t().approve);
  const element = h(
    "section",
    { "aria-labelledby": "review-heading", class: "review", hidden: true },
    h("h2", { id: "review-heading" }, t().review),
    h("p", { class: "note" }, t().reviewNote),
    line,
    button,
    hint,
  );
  const show = (a: ArticleJson) => {
    element.hidden = !a.reviewRequired;
    if (!a.reviewRequired) return;
    const isApproved = !!a.approveTime;
    line.textContent = isApproved
      ? t().approvedBy(a.approver || t().erasedActor, formatTime(a.approveTime, ctx.timeZone))
      : t().notApproved;
    const me = ctx.session.subject;
    const mine = me === a.author || me === a.lastEditor;
    button.hidden = isApproved || mine;
    hint.hidden = isApproved || !mine;
  };
  button.addEventListener("click", () => {
    const a = current();
    if (!a) return;
    button.disabled = true;
    api
      .approve(articleId(a), a.etag ?? "")
      .then((out) => {
        show(out);
        approved(out);
      })
      .catch(fail)
      .finally(() => {
        button.disabled = false;
      });
  });
  return { element, show };
}

export interface HistoryPanel {
  element: HTMLElement;
  load(id: string): Promise<void>;
}

function describe(e: ArticleHistoryEntryJson): string {
  const what = t().actions[e.action ?? ""] ?? String(e.action ?? "");
  const fields = (e.fields ?? []).map((f) => t().fieldNames[f] ?? f);
  const state = t().states[e.state ?? ""] ?? "";
  return [what + (fields.length ? `: ${fields.join(", ")}` : ""), state ? t().nowState(state) : ""].filter(Boolean).join(" · ");
}

export function historyPanel(ctx: Context, api: NewsApi): HistoryPanel {
  const body = h("tbody");
  const empty = h("p", { class: "note", hidden: true }, t().historyEmpty);
  const table = h(
    "table",
    { class: "articles article-history", id: "article-history" },
    h("caption", { class: "visually-hidden" }, t().historyTitle),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t().colWhen), h("th", { scope: "col" }, t().colWho), h("th", { scope: "col" }, t().colWhat))),
    body,
  );
  const element = h(
    "section",
    { "aria-labelledby": "history-heading", class: "article-history-section", hidden: true },
    h("h2", { id: "history-heading" }, t().historyTitle),
    empty,
    table,
  );
  const load = async (id: string) => {
    const entries = await api.history(id);
    element.hidden = false;
    empty.hidden = entries.length > 0;
    table.hidden = entries.length === 0;
    body.replaceChildren(
      ...entries.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, formatTime(e.time, ctx.timeZone)),
          h("td", {}, e.actor || t().erasedActor),
          h("td", {}, describe(e)),
        ),
      ),
    );
  };
  return { element, load };
}
