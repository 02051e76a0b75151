// The events screen (editors): the events of the coming year, and the editor with a recurrence
// editor (the rule in words and the next occurrences, in the city's time zone), capacity and the
// registrations per occurrence with a CSV export.
import { ApiError, call, CityApi } from "./api";
import { h } from "./dom";
import type {
  Event_StatusJson,
  EventJson,
  ListEventRegistrationsResponseJson,
  ListEventsResponseJson,
  OccurrenceJson,
  RegistrationJson,
} from "./gen/civitas/events/v1/events_pb";
import { t } from "./i18n";
import { fromRule, inWords, nextStarts, parseWall, toRule, wallToLocal, WEEKDAYS, type Freq, type Recurrence, type Wall } from "./recurrence";
import { errorText, type Context } from "./screen";
import { cityLocalToUtc, formatTime, utcToCityLocal } from "./time";

const DAY_MS = 86400000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export class EventsApi extends CityApi {
  // Every occurrence of the next 366 days (the longest window the module expands).
  async occurrences(): Promise<OccurrenceJson[]> {
    const all: OccurrenceJson[] = [];
    const now = Date.now();
    let pageToken = "";
    for (let page = 0; page < 20; page++) {
      const r = await this.getJson<ListEventsResponseJson>("events", {
        start_time: iso(now - DAY_MS),
        end_time: iso(now + 365 * DAY_MS),
        page_size: "100",
        page_token: pageToken,
      });
      all.push(...(r.occurrences ?? []));
      pageToken = r.nextPageToken ?? "";
      if (!pageToken) break;
    }
    return all;
  }
  event(id: string): Promise<EventJson> {
    return this.getJson<EventJson>(`events/${encodeURIComponent(id)}`);
  }
  create(e: EventJson): Promise<EventJson> {
    return this.postJson<EventJson>("events", e);
  }
  // Who registered (editors only: registrants are personal data), every occurrence.
  async registrants(id: string): Promise<RegistrationJson[]> {
    const all: RegistrationJson[] = [];
    let pageToken = "";
    for (let page = 0; page < 20; page++) {
      const r = await this.getJson<ListEventRegistrationsResponseJson>(`events/${encodeURIComponent(id)}/registrations`, {
        page_size: "500",
        page_token: pageToken,
      });
      all.push(...(r.registrations ?? []));
      pageToken = r.nextPageToken ?? "";
      if (!pageToken) break;
    }
    return all;
  }
  update(id: string, e: EventJson, mask: string[]): Promise<EventJson> {
    return call("PATCH", this.url(`events/${encodeURIComponent(id)}?update_mask=${mask.join(",")}`), this.token, e);
  }
}

const eventId = (name: string | undefined) => (name ?? "").replace(/^events\//, "");

const statusText = (s: string | undefined) => t().eventStatuses[s ?? ""] ?? "";

function csv(rows: string[][]): string {
  return rows.map((r) => r.map((c) => (/[",;\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(";")).join("\r\n") + "\r\n";
}

export function renderEvents(main: HTMLElement, ctx: Context): void {
  const api = new EventsApi(ctx.session.city, ctx.session.token);
  const status = h("div", { role: "status", class: "live", id: "events-status" }, t().loading);
  const body = h("tbody", { id: "events" });
  main.replaceChildren(
    h("h1", {}, t().eventsTitle),
    h("p", {}, h("a", { href: "#/events/new", class: "button", id: "new-event" }, t().newEvent)),
    h("p", { class: "note" }, t().timeZoneNote(ctx.timeZone)),
    status,
    h(
      "table",
      { class: "articles events" },
      h("caption", { class: "visually-hidden" }, t().eventsTitle),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, t().colTitle),
          h("th", { scope: "col" }, t().nextOccurrence),
          h("th", { scope: "col" }, t().recurrence),
          h("th", { scope: "col" }, t().registered),
          h("th", { scope: "col" }, t().colState),
        ),
      ),
      body,
    ),
  );
  api
    .occurrences()
    .then((occurrences) => {
      // One row per event: its next occurrence and how many occurrences follow.
      const byEvent = new Map<string, OccurrenceJson[]>();
      for (const o of occurrences) {
        const name = o.event?.name ?? "";
        byEvent.set(name, [...(byEvent.get(name) ?? []), o]);
      }
      body.replaceChildren(
        ...[...byEvent.values()].map((list) => {
          const first = list[0]!;
          const e = first.event ?? {};
          const r = fromRule(e.recurrenceRule ?? "");
          const start = parseWall(utcToCityLocal(e.startTime, ctx.timeZone));
          return h(
            "tr",
            {},
            h("td", {}, h("a", { href: `#/events/${eventId(e.name)}` }, e.title ?? "")),
            h("td", {}, formatTime(first.startTime, ctx.timeZone)),
            h("td", {}, r && start ? inWords(r, start) : (e.recurrenceRule ?? "")),
            h("td", {}, e.capacity ? `${first.registered ?? 0} / ${e.capacity}` : String(first.registered ?? 0)),
            h("td", {}, statusText(e.status)),
          );
        }),
      );
      status.textContent = t().eventCount(byEvent.size);
    })
    .catch((e: unknown) => (status.textContent = errorText(e)));
}

export function renderEventEditor(main: HTMLElement, ctx: Context, id: string | null): void {
  const api = new EventsApi(ctx.session.city, ctx.session.token);
  let current: EventJson | null = null;
  let name = id;
  const alert = h("div", { role: "alert", class: "live", id: "event-alert" });
  const status = h("div", { role: "status", class: "live", id: "event-status" });
  const heading = h("h1", {}, id ? t().editEvent : t().newEvent);

  const title = h("input", { id: "e-title", required: true, maxlength: 200, autocomplete: "off" });
  const description = h("textarea", { id: "e-description", rows: 4 });
  const start = h("input", { id: "e-start", type: "datetime-local", required: true });
  const end = h("input", { id: "e-end", type: "datetime-local", required: true });
  const place = h("input", { id: "e-place", autocomplete: "off" });
  const address = h("input", { id: "e-address", autocomplete: "off" });
  const capacity = h("input", { id: "e-capacity", type: "number", min: 0, step: 1, value: "0", "aria-describedby": "e-capacity-hint" });
  const registration = h("input", { id: "e-registration", type: "checkbox" });
  const eventStatus = h(
    "select",
    { id: "e-status" },
    ["SCHEDULED", "POSTPONED", "CANCELLED"].map((s) => h("option", { value: s }, statusText(s))),
  );

  // The recurrence editor.
  const freq = h(
    "select",
    { id: "r-freq" },
    (["", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"] as Freq[]).map((f) => h("option", { value: f }, t().freqs[f] ?? f)),
  );
  const interval = h("input", { id: "r-interval", type: "number", min: 1, max: 99, value: "1" });
  const dayBoxes = WEEKDAYS.map((d, i) => h("input", { type: "checkbox", id: `r-day-${d}`, value: d, "data-i": i }));
  const days = h(
    "fieldset",
    { class: "days" },
    h("legend", {}, t().onDays),
    dayBoxes.map((b, i) => h("span", { class: "check" }, b, h("label", { for: b.id }, t().weekdays[i] ?? ""))),
  );
  const monthlyBy = h(
    "select",
    { id: "r-monthly" },
    h("option", { value: "monthday" }, t().monthlyByDay),
    h("option", { value: "weekday" }, t().monthlyByWeekday),
  );
  const monthlyField = h("div", { class: "field" }, h("label", { for: "r-monthly" }, t().monthlyBy), monthlyBy);
  const endSelect = h(
    "select",
    { id: "r-end" },
    h("option", { value: "never" }, t().endNever),
    h("option", { value: "count" }, t().endCount),
    h("option", { value: "until" }, t().endUntil),
  );
  const count = h("input", { id: "r-count", type: "number", min: 1, max: 1000, value: "10" });
  const until = h("input", { id: "r-until", type: "date" });
  const countField = h("div", { class: "field" }, h("label", { for: "r-count" }, t().occurrencesCount), count);
  const untilField = h("div", { class: "field" }, h("label", { for: "r-until" }, t().untilDate), until);
  const intervalField = h("div", { class: "field" }, h("label", { for: "r-interval" }, t().interval), interval);
  const endField = h("div", { class: "field" }, h("label", { for: "r-end" }, t().ends), endSelect);
  const ruleWords = h("p", { id: "rule-words", class: "rule-words" });
  const ruleText = h("code", { id: "rule-text" });
  const preview = h("ol", { id: "next-occurrences" });
  const previewHeading = h("h3", { id: "next-heading" }, t().nextOccurrences);

  const recurrence = (): Recurrence => ({
    freq: freq.value as Freq,
    interval: Math.max(1, Number(interval.value) || 1),
    byDay: dayBoxes.filter((b) => b.checked).map((b) => b.value as Recurrence["byDay"][number]),
    monthlyBy: monthlyBy.value === "weekday" ? "weekday" : "monthday",
    end: endSelect.value as Recurrence["end"],
    count: Math.max(1, Number(count.value) || 1),
    until: until.value,
  });
  const update = () => {
    const r = recurrence();
    const repeating = !!r.freq;
    intervalField.hidden = !repeating;
    days.hidden = r.freq !== "WEEKLY";
    monthlyField.hidden = r.freq !== "MONTHLY";
    endField.hidden = !repeating;
    countField.hidden = !repeating || r.end !== "count";
    untilField.hidden = !repeating || r.end !== "until";
    const s = parseWall(start.value);
    if (!s) {
      ruleWords.textContent = t().needStart;
      ruleText.textContent = "";
      preview.replaceChildren();
      return;
    }
    ruleWords.textContent = inWords(r, s);
    ruleText.textContent = toRule(r, s) || "–";
    preview.replaceChildren(
      ...nextStarts(r, s, 5).map((w: Wall) =>
        h("li", {}, formatTime(cityLocalToUtc(wallToLocal(w), ctx.timeZone) ?? undefined, ctx.timeZone)),
      ),
    );
  };
  for (const el of [freq, interval, monthlyBy, endSelect, count, until, start, ...dayBoxes]) {
    el.addEventListener("input", update);
    el.addEventListener("change", update);
  }

  const registrations = h("tbody", { id: "registrations" });
  const csvLink = h("a", { id: "csv-export", class: "button", download: "anmeldungen.csv", hidden: true }, t().csvExport);
  const registrationsSection = h(
    "section",
    { "aria-labelledby": "registrations-heading", hidden: true },
    h("h2", { id: "registrations-heading" }, t().registrations),
    h("p", { class: "note" }, t().registrationsNote),
    h(
      "table",
      { class: "articles registrations" },
      h("caption", { class: "visually-hidden" }, t().registrations),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, t().occurrence), h("th", { scope: "col" }, t().registered), h("th", { scope: "col" }, t().seatsLeft)),
      ),
      registrations,
    ),
    h("p", {}, csvLink),
  );
  const people = h("tbody", { id: "registrants" });
  const peopleCsv = h("a", { id: "registrants-csv", class: "button", download: "teilnehmende.csv", hidden: true }, t().registrantsCsv);
  const peopleNone = h("p", { class: "note", id: "registrants-none" }, t().noRegistrants);
  const peopleTable = h(
    "table",
    { class: "articles registrants", hidden: true },
    h("caption", { class: "visually-hidden" }, t().registrantsTitle),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col" }, t().occurrence), h("th", { scope: "col" }, t().registrant), h("th", { scope: "col" }, t().registeredAt)),
    ),
    people,
  );
  const peopleSection = h(
    "section",
    { "aria-labelledby": "registrants-heading", hidden: true },
    h("h2", { id: "registrants-heading" }, t().registrantsTitle),
    h("p", { class: "note" }, t().registrantsNote),
    peopleNone,
    peopleTable,
    h("p", {}, peopleCsv),
  );
  const loadRegistrants = async () => {
    if (!name) return;
    const list = await api.registrants(name);
    peopleSection.hidden = false;
    peopleNone.hidden = list.length > 0;
    peopleTable.hidden = list.length === 0;
    people.replaceChildren(
      ...list.map((r) =>
        h(
          "tr",
          {},
          h("td", {}, formatTime(r.occurrenceStart, ctx.timeZone)),
          h("td", {}, r.registrant ?? ""),
          h("td", {}, formatTime(r.createTime, ctx.timeZone)),
        ),
      ),
    );
    const rows = [
      [t().csvEvent, t().occurrence, t().csvStartUtc, t().registrant, t().registeredAt],
      ...list.map((r) => [
        r.eventTitle ?? "",
        formatTime(r.occurrenceStart, ctx.timeZone),
        r.occurrenceStart ?? "",
        r.registrant ?? "",
        formatTime(r.createTime, ctx.timeZone),
      ]),
    ];
    peopleCsv.setAttribute("href", `data:text/csv;charset=utf-8,${encodeURIComponent("\ufeff" + csv(rows))}`);
    peopleCsv.hidden = list.length === 0;
  };
  const loadRegistrations = async () => {
    if (!name) return;
    const mine = (await api.occurrences()).filter((o) => o.event?.name === `events/${name}`);
    registrationsSection.hidden = false;
    registrations.replaceChildren(
      ...mine.map((o) =>
        h(
          "tr",
          {},
          h("td", {}, formatTime(o.startTime, ctx.timeZone)),
          h("td", {}, String(o.registered ?? 0)),
          h("td", {}, o.event?.capacity ? String(o.seatsLeft ?? 0) : t().unlimited),
        ),
      ),
    );
    const rows = [
      [t().csvEvent, t().occurrence, t().csvStartUtc, t().registered, t().capacityLabel, t().seatsLeft],
      ...mine.map((o) => [
        o.event?.title ?? "",
        formatTime(o.startTime, ctx.timeZone),
        o.startTime ?? "",
        String(o.registered ?? 0),
        String(o.event?.capacity ?? 0),
        o.event?.capacity ? String(o.seatsLeft ?? 0) : "",
      ]),
    ];
    csvLink.setAttribute("href", `data:text/csv;charset=utf-8,${encodeURIComponent("\ufeff" + csv(rows))}`);
    csvLink.hidden = mine.length === 0;
  };

  const fill = (e: EventJson) => {
    title.value = e.title ?? "";
    description.value = e.description ?? "";
    start.value = utcToCityLocal(e.startTime, ctx.timeZone);
    end.value = utcToCityLocal(e.endTime, ctx.timeZone);
    place.value = e.location?.name ?? "";
    address.value = e.location?.address ?? "";
    capacity.value = String(e.capacity ?? 0);
    registration.checked = !!e.registrationOpen;
    eventStatus.value = e.status && e.status !== "STATUS_UNSPECIFIED" ? e.status : "SCHEDULED";
    const r = fromRule(e.recurrenceRule ?? "");
    if (r) {
      freq.value = r.freq;
      interval.value = String(r.interval);
      for (const b of dayBoxes) b.checked = r.byDay.includes(b.value as Recurrence["byDay"][number]);
      monthlyBy.value = r.monthlyBy;
      endSelect.value = r.end;
      count.value = String(r.count);
      until.value = r.until;
    } else if (e.recurrenceRule) {
      alert.textContent = t().ruleNotEditable(e.recurrenceRule);
    }
    update();
  };

  const save = h("button", { type: "submit", id: "e-save" }, t().saveEvent);
  const form = h(
    "form",
    { id: "event-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "e-title" }, t().fTitle), title),
    h("div", { class: "field" }, h("label", { for: "e-description" }, t().description), description),
    h("div", { class: "field" }, h("label", { for: "e-start" }, t().eventStart), start),
    h("div", { class: "field" }, h("label", { for: "e-end" }, t().eventEnd), end),
    h("p", { class: "note" }, t().timeZoneNote(ctx.timeZone)),
    h(
      "fieldset",
      { class: "recurrence" },
      h("legend", {}, t().recurrence),
      h("div", { class: "field" }, h("label", { for: "r-freq" }, t().repeats), freq),
      intervalField,
      days,
      monthlyField,
      endField,
      countField,
      untilField,
      h(
        "div",
        { class: "rule-preview", role: "group", "aria-labelledby": "rule-heading" },
        h("h3", { id: "rule-heading" }, t().ruleInWords),
        ruleWords,
        h("p", { class: "note" }, t().ruleAsText, " ", ruleText),
        previewHeading,
        preview,
      ),
    ),
    h("div", { class: "field" }, h("label", { for: "e-place" }, t().place), place),
    h("div", { class: "field" }, h("label", { for: "e-address" }, t().colAddress), address),
    h(
      "div",
      { class: "field" },
      h("label", { for: "e-capacity" }, t().capacityLabel),
      capacity,
      h("p", { class: "note", id: "e-capacity-hint" }, t().capacityHint),
    ),
    h("div", { class: "check" }, registration, h("label", { for: "e-registration" }, t().registrationOpen)),
    id ? h("div", { class: "field" }, h("label", { for: "e-status" }, t().colState), eventStatus) : null,
    save,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    alert.textContent = "";
    status.textContent = "";
    if (!title.reportValidity()) return;
    const startTime = cityLocalToUtc(start.value, ctx.timeZone);
    const endTime = cityLocalToUtc(end.value, ctx.timeZone);
    const s = parseWall(start.value);
    if (!startTime || !endTime || !s) {
      alert.textContent = t().needTimes;
      (startTime ? end : start).focus();
      return;
    }
    const e: EventJson = {
      title: title.value,
      description: description.value,
      startTime,
      endTime,
      timeZone: ctx.timeZone,
      recurrenceRule: toRule(recurrence(), s),
      location: { name: place.value, address: address.value },
      capacity: Number(capacity.value) || 0,
      registrationOpen: registration.checked,
    };
    save.disabled = true;
    const request = name
      ? api.update(name, { ...e, name: `events/${name}`, etag: current?.etag ?? "", status: eventStatus.value as Event_StatusJson },
          ["title", "description", "start_time", "end_time", "time_zone", "recurrence_rule", "location", "capacity", "registration_open", "status"])
      : api.create(e);
    request
      .then(async (saved) => {
        current = saved;
        if (!name) {
          name = eventId(saved.name);
          history.replaceState(null, "", `#/events/${name}`);
          heading.textContent = t().editEvent;
        }
        status.textContent = t().eventSaved;
        await loadRegistrations();
        await loadRegistrants().catch(() => undefined);
      })
      .catch((err: unknown) => {
        alert.textContent = err instanceof ApiError && err.conflict ? t().eventConflict : errorText(err);
      })
      .finally(() => (save.disabled = false));
  });

  main.replaceChildren(h("p", {}, h("a", { href: "#/events" }, t().backToEvents)), heading, alert, status, form, registrationsSection, peopleSection);
  update();
  if (!id) {
    title.focus();
    return;
  }
  api
    .event(id)
    .then((e) => {
      current = e;
      fill(e);
      return Promise.all([loadRegistrations(), loadRegistrants()]);
    })
    .catch((e: unknown) => (alert.textContent = errorText(e)));
}
