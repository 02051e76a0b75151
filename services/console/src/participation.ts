// The participation screen: the moderation queue of flagged content (polled, so it updates while
// it is open), hide and restore with a reason, the audit trail; official answers to ideas; polls.
import { CityApi } from "./api";
import { h } from "./dom";
import type {
  AnswerIdeaRequestJson,
  AuditEntryJson,
  FlaggedItemJson,
  Idea_StatusJson,
  IdeaJson,
  ListAuditEntriesResponseJson,
  ListFlaggedContentResponseJson,
  ListIdeasResponseJson,
  ListPollsResponseJson,
  ModerateContentRequestJson,
  PollJson,
} from "./gen/civitas/participation/v1/participation_pb";
import { t } from "./i18n";
import { errorText, type Context } from "./screen";
import { hasRole } from "./session";
import { cityLocalToUtc, formatTime } from "./time";

export class ParticipationApi extends CityApi {
  async flagged(): Promise<FlaggedItemJson[]> {
    return (await this.getJson<ListFlaggedContentResponseJson>("moderation/flagged", { page_size: "100" })).items ?? [];
  }
  moderate(request: ModerateContentRequestJson): Promise<AuditEntryJson> {
    return this.postJson<AuditEntryJson>("moderation:moderate", request);
  }
  async audit(): Promise<AuditEntryJson[]> {
    return (await this.getJson<ListAuditEntriesResponseJson>("moderation/audit", { page_size: "100" })).entries ?? [];
  }
  async ideas(): Promise<IdeaJson[]> {
    const all: IdeaJson[] = [];
    let pageToken = "";
    for (let page = 0; page < 10; page++) {
      const r = await this.getJson<ListIdeasResponseJson>("ideas", { page_size: "100", page_token: pageToken });
      all.push(...(r.ideas ?? []));
      pageToken = r.nextPageToken ?? "";
      if (!pageToken) break;
    }
    return all;
  }
  idea(id: string): Promise<IdeaJson> {
    return this.getJson<IdeaJson>(`ideas/${encodeURIComponent(id)}`);
  }
  answer(id: string, request: AnswerIdeaRequestJson): Promise<IdeaJson> {
    return this.postJson<IdeaJson>(`ideas/${encodeURIComponent(id)}:answer`, request);
  }
  createPoll(poll: PollJson): Promise<PollJson> {
    return this.postJson<PollJson>("polls", poll);
  }
  poll(id: string): Promise<PollJson> {
    return this.getJson<PollJson>(`polls/${encodeURIComponent(id)}`);
  }
  // Every poll of the city, newest first (without the votes: poll() has them).
  async polls(): Promise<PollJson[]> {
    const all: PollJson[] = [];
    let pageToken = "";
    for (let page = 0; page < 10; page++) {
      const r = await this.getJson<ListPollsResponseJson>("polls", { page_size: "100", page_token: pageToken });
      all.push(...(r.polls ?? []));
      pageToken = r.nextPageToken ?? "";
      if (!pageToken) break;
    }
    return all;
  }
  closePoll(id: string): Promise<PollJson> {
    return this.postJson<PollJson>(`polls/${encodeURIComponent(id)}:close`, {});
  }
}

// How often the moderation queue asks for news while it is shown.
export const QUEUE_POLL_MS = 5000;

const IDEA_STATUSES: Idea_StatusJson[] = ["SUBMITTED", "UNDER_REVIEW", "ACCEPTED", "REJECTED", "IMPLEMENTED"];
const ideaStatus = (s: string | undefined) => t().ideaStatuses[s ?? ""] ?? String(s ?? "");
const lastPart = (name: string | undefined) => (name ?? "").replace(/^.*\//, "");

function subNav(ctx: Context, current: string): HTMLElement {
  const items = [
    { path: "/participation", label: t().moderationTitle, ok: hasRole(ctx.session, "moderator") },
    { path: "/participation/ideas", label: t().ideasTitle, ok: hasRole(ctx.session, "editor") },
    { path: "/participation/polls", label: t().pollsTitle, ok: hasRole(ctx.session, "editor") },
  ].filter((x) => x.ok);
  return h(
    "nav",
    { "aria-label": t().participationNav, class: "subnav" },
    h(
      "ul",
      {},
      items.map((x) =>
        h("li", {}, h("a", { href: `#${x.path}`, "aria-current": x.path === current ? "page" : undefined }, x.label)),
      ),
    ),
  );
}

export function renderParticipation(main: HTMLElement, ctx: Context, route: string): void {
  const idea = /^\/participation\/ideas\/([A-Za-z0-9_-]+)$/.exec(route);
  const poll = /^\/participation\/polls\/([A-Za-z0-9_-]+)$/.exec(route);
  const moderator = hasRole(ctx.session, "moderator");
  const editor = hasRole(ctx.session, "editor");
  if (editor && idea?.[1]) renderIdea(main, ctx, idea[1]);
  else if (editor && poll?.[1]) renderPoll(main, ctx, poll[1]);
  else if (editor && route === "/participation/polls") renderPolls(main, ctx);
  else if (editor && (route === "/participation/ideas" || !moderator)) renderIdeas(main, ctx);
  else renderModeration(main, ctx);
}

function renderModeration(main: HTMLElement, ctx: Context): void {
  const api = new ParticipationApi(ctx.session.city, ctx.session.token);
  const status = h("div", { role: "status", class: "live", id: "queue-status" }, t().loading);
  const alert = h("div", { role: "alert", class: "live", id: "queue-alert" });
  // Decisions are announced apart from the queue's count, which every refresh rewrites.
  const decision = h("div", { role: "status", class: "live", id: "queue-decision" });
  const body = h("tbody", { id: "queue" });
  const rows = new Map<string, { row: HTMLTableRowElement; count: HTMLElement; state: HTMLElement }>();
  const decided = h("ul", { id: "decided" });
  const auditBody = h("tbody", { id: "audit" });
  // Moderators and admins read the audit trail (ListAuditEntries is the moderators').
  const auditor = hasRole(ctx.session, "moderator");
  let first = true;

  const moderate = (item: string, hide: boolean, reason: string, excerpt: string, done: () => void) => {
    alert.textContent = "";
    if (reason.trim().length < 3) {
      alert.textContent = t().reasonNeeded;
      return;
    }
    api
      .moderate({ item, hide, reason })
      .then(() => {
        decision.textContent = hide ? t().hidden(excerpt) : t().restoredItem(excerpt);
        done();
        rememberDecision(item, hide, excerpt);
        void refresh();
        if (auditor) void loadAudit();
      })
      .catch((e: unknown) => {
        alert.textContent = errorText(e);
      });
  };

  // What this moderator decided while the screen is open, each with the way back.
  const rememberDecision = (item: string, hidden: boolean, excerpt: string) => {
    const reasonId = `undo-reason-${decided.children.length}`;
    const reason = h("input", { id: reasonId, autocomplete: "off", maxlength: 500 });
    const button = h("button", { type: "button" }, hidden ? t().restore : t().hide);
    const li = h(
      "li",
      {},
      h("span", {}, `${hidden ? t().hiddenState : t().visibleState}: ${excerpt} `),
      h("label", { for: reasonId, class: "visually-hidden" }, t().reasonFor(excerpt)),
      reason,
      button,
    );
    reason.placeholder = t().reason;
    button.addEventListener("click", () => moderate(item, !hidden, reason.value, excerpt, () => li.remove()));
    decided.prepend(li);
  };

  const addRow = (f: FlaggedItemJson, index: number) => {
    const item = f.item ?? "";
    const excerpt = f.excerpt ?? item;
    const reasonId = `reason-${index}-${lastPart(item)}`;
    const reason = h("input", { id: reasonId, autocomplete: "off", maxlength: 500 });
    const count = h("td", {}, String(f.flagCount ?? 0));
    const state = h("td", {}, f.hidden ? t().hiddenStateAuto : t().visibleState);
    const hideButton = h("button", { type: "button", class: "hide-item" }, t().hide);
    const restoreButton = h("button", { type: "button", class: "restore-item" }, f.hidden ? t().restore : t().keep);
    const row = h(
      "tr",
      { "data-item": item },
      h("td", { class: "excerpt" }, excerpt, h("br"), h("span", { class: "note" }, item)),
      count,
      state,
      h(
        "td",
        {},
        h("label", { for: reasonId, class: "visually-hidden" }, t().reasonFor(excerpt)),
        reason,
        h("div", { class: "actions" }, hideButton, restoreButton),
      ),
    );
    reason.placeholder = t().reason;
    hideButton.addEventListener("click", () => moderate(item, true, reason.value, excerpt, () => row.remove()));
    restoreButton.addEventListener("click", () => moderate(item, false, reason.value, excerpt, () => row.remove()));
    rows.set(item, { row, count, state });
    return row;
  };

  // Rows are updated in place: a moderator typing a reason keeps it while the queue refreshes.
  const refresh = async () => {
    const items = await api.flagged();
    const seen = new Set<string>();
    let added = 0;
    items.forEach((f, i) => {
      const item = f.item ?? "";
      seen.add(item);
      const known = rows.get(item);
      if (known) {
        known.count.textContent = String(f.flagCount ?? 0);
        known.state.textContent = f.hidden ? t().hiddenStateAuto : t().visibleState;
      } else {
        body.append(addRow(f, i));
        added++;
      }
    });
    for (const [item, r] of rows) {
      if (!seen.has(item)) {
        r.row.remove();
        rows.delete(item);
      }
    }
    const total = t().queueCount(rows.size);
    status.textContent = !first && added > 0 ? `${t().newInQueue(added)} ${total}` : total;
    first = false;
  };

  const loadAudit = async () => {
    const entries = await api.audit();
    auditBody.replaceChildren(
      ...entries.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, formatTime(e.time, ctx.timeZone)),
          h("td", {}, t().auditActions[e.action ?? ""] ?? String(e.action ?? "")),
          h("td", { class: "excerpt" }, e.item ?? ""),
          h("td", {}, e.moderator || "–"),
          h("td", {}, e.reason ?? ""),
        ),
      ),
    );
  };

  const table = h(
    "table",
    { class: "articles queue" },
    h("caption", { class: "visually-hidden" }, t().moderationTitle),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t().colContent),
        h("th", { scope: "col" }, t().colFlags),
        h("th", { scope: "col" }, t().colState),
        h("th", { scope: "col" }, t().colDecision),
      ),
    ),
    body,
  );
  main.replaceChildren(
    h("h1", {}, t().participationTitle),
    subNav(ctx, "/participation"),
    h("h2", {}, t().moderationTitle),
    h("p", { class: "note" }, t().queueNote),
    alert,
    decision,
    status,
    table,
    h("section", { "aria-labelledby": "decided-heading" }, h("h2", { id: "decided-heading" }, t().decidedTitle), decided),
    auditor
      ? h(
          "section",
          { "aria-labelledby": "audit-heading" },
          h("h2", { id: "audit-heading" }, t().auditTitle),
          h(
            "table",
            { class: "articles audit" },
            h("caption", { class: "visually-hidden" }, t().auditTitle),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, t().colTime),
                h("th", { scope: "col" }, t().colAction),
                h("th", { scope: "col" }, t().colContent),
                h("th", { scope: "col" }, t().colModerator),
                h("th", { scope: "col" }, t().reason),
              ),
            ),
            auditBody,
          ),
        )
      : h("p", { class: "note" }, t().auditAdminsOnly),
  );
  const tick = () => {
    // The screen was left: stop asking.
    if (!body.isConnected) {
      clearInterval(timer);
      return;
    }
    refresh().catch((e: unknown) => {
      status.textContent = errorText(e);
    });
  };
  const timer = setInterval(tick, QUEUE_POLL_MS);
  tick();
  if (auditor) loadAudit().catch((e: unknown) => (alert.textContent = errorText(e)));
}

function renderIdeas(main: HTMLElement, ctx: Context): void {
  const api = new ParticipationApi(ctx.session.city, ctx.session.token);
  const status = h("div", { role: "status", class: "live" }, t().loading);
  const body = h("tbody");
  main.replaceChildren(
    h("h1", {}, t().participationTitle),
    subNav(ctx, "/participation/ideas"),
    h("h2", {}, t().ideasTitle),
    status,
    h(
      "table",
      { class: "articles ideas" },
      h("caption", { class: "visually-hidden" }, t().ideasTitle),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, t().colTitle),
          h("th", { scope: "col" }, t().colState),
          h("th", { scope: "col" }, t().colSupports),
          h("th", { scope: "col" }, t().colAnswered),
        ),
      ),
      body,
    ),
  );
  api
    .ideas()
    .then((ideas) => {
      body.replaceChildren(
        ...ideas.map((i) =>
          h(
            "tr",
            {},
            h("td", {}, h("a", { href: `#/participation/ideas/${lastPart(i.name)}` }, i.title ?? "")),
            h("td", {}, ideaStatus(i.status)),
            h("td", {}, String(i.supportCount ?? 0)),
            h("td", {}, i.officialAnswer ? t().yes : t().no),
          ),
        ),
      );
      status.textContent = t().ideaCount(ideas.length);
    })
    .catch((e: unknown) => (status.textContent = errorText(e)));
}

function renderIdea(main: HTMLElement, ctx: Context, id: string): void {
  const api = new ParticipationApi(ctx.session.city, ctx.session.token);
  const status = h("div", { role: "status", class: "live", id: "idea-status" });
  const alert = h("div", { role: "alert", class: "live", id: "idea-alert" });
  const heading = h("h1", {}, t().ideasTitle);
  const facts = h("div", {}, t().loading);
  const select = h(
    "select",
    { id: "i-status" },
    IDEA_STATUSES.map((s) => h("option", { value: s }, ideaStatus(s))),
  );
  const answer = h("textarea", { id: "i-answer", rows: 5, maxlength: 5000 });
  const submit = h("button", { type: "submit", id: "i-submit" }, t().publishAnswer);
  const show = (i: IdeaJson) => {
    heading.textContent = i.title ?? "";
    facts.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t().colState),
        h("dd", { id: "idea-current-status" }, ideaStatus(i.status)),
        h("dt", {}, t().colSupports),
        h("dd", {}, String(i.supportCount ?? 0)),
        h("dt", {}, t().author),
        h("dd", {}, i.authorDisplayName || "–"),
        h("dt", {}, t().colFiled),
        h("dd", {}, formatTime(i.createTime, ctx.timeZone)),
      ),
      h("p", { class: "description" }, i.body ?? ""),
      i.officialAnswer
        ? h("section", { "aria-labelledby": "answer-heading" }, h("h2", { id: "answer-heading" }, t().officialAnswer),
            h("p", { class: "description", id: "idea-answer" }, i.officialAnswer))
        : h("p", { class: "note" }, t().noAnswerYet),
    );
    select.value = i.status && i.status !== "SUBMITTED" ? i.status : "UNDER_REVIEW";
    if (!answer.value) answer.value = i.officialAnswer ?? "";
  };
  const form = h(
    "form",
    { id: "answer-form" },
    h(
      "fieldset",
      {},
      h("legend", {}, t().answerIdea),
      h("div", { class: "field" }, h("label", { for: "i-status" }, t().newStatus), select),
      h("div", { class: "field" }, h("label", { for: "i-answer" }, t().officialAnswer), answer),
      submit,
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    alert.textContent = "";
    submit.disabled = true;
    api
      .answer(id, { status: select.value as Idea_StatusJson, officialAnswer: answer.value })
      .then((i) => {
        show(i);
        status.textContent = t().answerPublished;
      })
      .catch((err: unknown) => (alert.textContent = errorText(err)))
      .finally(() => (submit.disabled = false));
  });
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/participation/ideas" }, t().backToIdeas)),
    heading,
    alert,
    status,
    facts,
    form,
  );
  api.idea(id).then(show).catch((e: unknown) => {
    facts.replaceChildren();
    alert.textContent = errorText(e);
  });
}

function renderPolls(main: HTMLElement, ctx: Context): void {
  const api = new ParticipationApi(ctx.session.city, ctx.session.token);
  const alert = h("div", { role: "alert", class: "live", id: "poll-alert" });
  const title = h("input", { id: "p-title", required: true, minlength: 5, maxlength: 200, autocomplete: "off" });
  const description = h("textarea", { id: "p-description", rows: 3, maxlength: 2000 });
  const closes = h("input", { id: "p-close", type: "datetime-local", required: true });
  const hiddenResults = h("input", { id: "p-hidden", type: "checkbox" });
  const changeable = h("input", { id: "p-changeable", type: "checkbox", checked: true });
  const questions = h("div", { id: "p-questions" });
  let count = 0;
  const addQuestion = () => {
    const n = ++count;
    const text = h("input", { id: `q-${n}-text`, required: true, maxlength: 500, autocomplete: "off", class: "q-text" });
    const options = h("textarea", { id: `q-${n}-options`, rows: 4, required: true, class: "q-options", "aria-describedby": `q-${n}-hint` });
    const multiple = h("input", { id: `q-${n}-multiple`, type: "checkbox", class: "q-multiple" });
    questions.append(
      h(
        "fieldset",
        { class: "question" },
        h("legend", {}, t().questionN(n)),
        h("div", { class: "field" }, h("label", { for: `q-${n}-text` }, t().questionText), text),
        h(
          "div",
          { class: "field" },
          h("label", { for: `q-${n}-options` }, t().questionOptions),
          options,
          h("p", { class: "note", id: `q-${n}-hint` }, t().optionsHint),
        ),
        h("div", { class: "check" }, multiple, h("label", { for: `q-${n}-multiple` }, t().multipleChoice)),
      ),
    );
    return text;
  };
  addQuestion();
  const more = h("button", { type: "button", id: "add-question" }, t().addQuestion);
  more.addEventListener("click", () => addQuestion().focus());
  const open = h("input", { id: "open-poll", autocomplete: "off" });
  const openForm = h(
    "form",
    { id: "open-poll-form", class: "filters" },
    h("label", { for: "open-poll" }, t().openPoll),
    open,
    h("button", { type: "submit" }, t().show),
  );
  openForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = lastPart(open.value.trim());
    if (id) ctx.navigate(`#/participation/polls/${id}`);
  });
  const form = h(
    "form",
    { id: "poll-form", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, t().newPoll),
      h("div", { class: "field" }, h("label", { for: "p-title" }, t().fTitle), title),
      h("div", { class: "field" }, h("label", { for: "p-description" }, t().description), description),
      h("div", { class: "field" }, h("label", { for: "p-close" }, t().pollCloses), closes),
      h("p", { class: "note" }, t().timeZoneNote(ctx.timeZone)),
      h("div", { class: "check" }, hiddenResults, h("label", { for: "p-hidden" }, t().resultsHidden)),
      h("div", { class: "check" }, changeable, h("label", { for: "p-changeable" }, t().ballotsChangeable)),
      questions,
      h("div", { class: "actions" }, more, h("button", { type: "submit", id: "create-poll" }, t().createPoll)),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    alert.textContent = "";
    const closeTime = cityLocalToUtc(closes.value, ctx.timeZone);
    if (!title.reportValidity()) return;
    if (!closeTime) {
      alert.textContent = t().needCloseTime;
      closes.focus();
      return;
    }
    const qs = [...questions.querySelectorAll<HTMLFieldSetElement>("fieldset.question")].map((q) => ({
      text: q.querySelector<HTMLInputElement>(".q-text")?.value ?? "",
      multipleChoice: q.querySelector<HTMLInputElement>(".q-multiple")?.checked ?? false,
      options: (q.querySelector<HTMLTextAreaElement>(".q-options")?.value ?? "")
        .split("\n")
        .map((o) => o.trim())
        .filter(Boolean)
        .map((text) => ({ text })),
    }));
    api
      .createPoll({
        title: title.value,
        description: description.value,
        closeTime,
        resultsHiddenUntilClose: hiddenResults.checked,
        ballotsChangeable: changeable.checked,
        questions: qs,
      })
      .then((p) => ctx.navigate(`#/participation/polls/${lastPart(p.name)}`))
      .catch((err: unknown) => (alert.textContent = errorText(err)));
  });
  const listStatus = h("div", { role: "status", class: "live", id: "polls-status" }, t().loading);
  const listBody = h("tbody", { id: "polls" });
  const list = h(
    "table",
    { class: "articles polls" },
    h("caption", { class: "visually-hidden" }, t().allPolls),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, t().fTitle),
        h("th", { scope: "col" }, t().colState),
        h("th", { scope: "col" }, t().pollCloses),
        h("th", { scope: "col" }, t().ballots),
      ),
    ),
    listBody,
  );
  api
    .polls()
    .then((polls) => {
      listBody.replaceChildren(
        ...polls.map((p) => {
          const closed = p.closeTime ? new Date(p.closeTime).getTime() <= Date.now() : false;
          return h(
            "tr",
            { "data-poll": lastPart(p.name) },
            h("td", {}, h("a", { href: `#/participation/polls/${lastPart(p.name)}` }, p.title ?? "")),
            h("td", {}, closed ? t().pollClosed : t().pollOpen),
            h("td", {}, formatTime(p.closeTime, ctx.timeZone)),
            h("td", {}, String(p.ballotCount ?? 0)),
          );
        }),
      );
      list.hidden = polls.length === 0;
      listStatus.textContent = polls.length ? t().pollsStatus(polls.length) : t().noPolls;
    })
    .catch((e: unknown) => (listStatus.textContent = errorText(e)));
  main.replaceChildren(
    h("h1", {}, t().participationTitle),
    subNav(ctx, "/participation/polls"),
    h("h2", {}, t().pollsTitle),
    h("section", { "aria-labelledby": "all-polls-heading" }, h("h3", { id: "all-polls-heading" }, t().allPolls), listStatus, list),
    openForm,
    alert,
    form,
  );
}

function renderPoll(main: HTMLElement, ctx: Context, id: string): void {
  const api = new ParticipationApi(ctx.session.city, ctx.session.token);
  const alert = h("div", { role: "alert", class: "live", id: "poll-alert" });
  const content = h("div", { id: "poll-results" }, t().loading);
  const heading = h("h1", {}, t().pollsTitle);
  const done = h("div", { role: "status", class: "live", id: "poll-status" });
  main.replaceChildren(h("p", {}, h("a", { href: "#/participation/polls" }, t().backToPolls)), heading, alert, done, content);
  // Closing is for good: the button asks once more, in the page (Escape-free, keyboard-plain).
  const closeTools = (open: boolean): HTMLElement => {
    const box = h("div", { class: "actions", id: "close-poll-tools" });
    if (!open) return box;
    const ask = h("button", { type: "button", id: "close-poll", class: "secondary" }, t().closePoll);
    ask.addEventListener("click", () => {
      const yes = h("button", { type: "button", id: "close-poll-yes" }, t().closeYes);
      const no = h("button", { type: "button", class: "secondary" }, t().cancel);
      no.addEventListener("click", () => {
        box.replaceChildren(ask);
        ask.focus();
      });
      yes.addEventListener("click", () => {
        yes.disabled = true;
        alert.textContent = "";
        api
          .closePoll(id)
          .then((p) => {
            show(p);
            done.textContent = t().pollClosedNow;
          })
          .catch((e: unknown) => {
            yes.disabled = false;
            alert.textContent = errorText(e);
          });
      });
      box.replaceChildren(h("p", { id: "close-poll-question" }, t().closeConfirm), yes, no);
      yes.focus();
    });
    box.append(ask);
    return box;
  };
  const show = (p: PollJson) => {
      heading.textContent = p.title ?? "";
      const closed = p.closeTime ? new Date(p.closeTime).getTime() <= Date.now() : false;
      content.replaceChildren(
        closeTools(!closed),
        h(
          "dl",
          { class: "facts" },
          h("dt", {}, t().pollNumber),
          h("dd", {}, id),
          h("dt", {}, t().colState),
          h("dd", { id: "poll-state" }, closed ? t().pollClosed : t().pollOpen),
          h("dt", {}, t().pollOpens),
          h("dd", {}, formatTime(p.openTime, ctx.timeZone)),
          h("dt", {}, t().pollCloses),
          h("dd", {}, formatTime(p.closeTime, ctx.timeZone)),
          h("dt", {}, t().ballots),
          h("dd", { id: "poll-ballots" }, String(p.ballotCount ?? 0)),
        ),
        p.description ? h("p", { class: "description" }, p.description) : h("span"),
        h("h2", {}, t().results),
        ...(p.questions ?? []).map((q, qi) => {
          const total = (q.options ?? []).reduce((sum, o) => sum + Number(o.votes ?? 0), 0);
          return h(
            "table",
            { class: "articles results" },
            h("caption", {}, `${qi + 1}. ${q.text ?? ""}`),
            h(
              "thead",
              {},
              h("tr", {}, h("th", { scope: "col" }, t().option), h("th", { scope: "col" }, t().votes), h("th", { scope: "col" }, t().share)),
            ),
            h(
              "tbody",
              {},
              (q.options ?? []).map((o) => {
                const votes = Number(o.votes ?? 0);
                const pct = total ? Math.round((votes * 100) / total) : 0;
                return h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, o.text ?? ""),
                  h("td", {}, String(votes)),
                  h("td", {}, h("meter", { min: 0, max: 100, value: pct, "aria-label": `${o.text ?? ""}: ${pct} %` }), ` ${pct} %`),
                );
              }),
            ),
          );
        }),
      );
  };
  api
    .poll(id)
    .then(show)
    .catch((e: unknown) => {
      content.replaceChildren();
      alert.textContent = errorText(e);
    });
}
