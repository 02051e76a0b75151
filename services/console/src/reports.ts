// The defect reports screen: the triage list (by status, service and age) with a map, and one
// report with its photos, history and the status workflow (a note to the reporter each time).
import { CityApi } from "./api";
import { h } from "./dom";
import type {
  ListReportsResponseJson,
  ListServicesResponseJson,
  Report_StatusJson,
  ReportJson,
  ServiceJson,
  UpdateReportStatusRequestJson,
} from "./gen/civitas/reports/v1/reports_pb";
import { t } from "./i18n";
import { pointsMap } from "./map";
import { errorText, type Context } from "./screen";
import { formatTime } from "./time";

export class ReportsApi extends CityApi {
  async services(): Promise<ServiceJson[]> {
    return (await this.getJson<ListServicesResponseJson>("services")).services ?? [];
  }

  // Up to `max` reports, newest first.
  async list(filter: { service?: string; status?: string; startTime?: string; endTime?: string }, max = 500): Promise<ReportJson[]> {
    const all: ReportJson[] = [];
    let pageToken = "";
    while (all.length < max) {
      const r = await this.getJson<ListReportsResponseJson>("reports", {
        page_size: "100",
        service: filter.service,
        status: filter.status,
        start_time: filter.startTime,
        end_time: filter.endTime,
        page_token: pageToken,
      });
      all.push(...(r.reports ?? []));
      pageToken = r.nextPageToken ?? "";
      if (!pageToken) break;
    }
    return all;
  }

  report(id: string): Promise<ReportJson> {
    return this.getJson<ReportJson>(`reports/${encodeURIComponent(id)}`);
  }

  updateStatus(id: string, request: UpdateReportStatusRequestJson): Promise<ReportJson> {
    return this.postJson<ReportJson>(`reports/${encodeURIComponent(id)}:updateStatus`, request);
  }

  photoUrl(photoName: string): string {
    return this.url(photoName.split("/").map(encodeURIComponent).join("/"));
  }
}

export const REPORT_STATUSES: Report_StatusJson[] = [
  "SUBMITTED",
  "ACKNOWLEDGED",
  "IN_PROGRESS",
  "RESOLVED",
  "REJECTED",
  "DUPLICATE",
];
const OPEN: Report_StatusJson[] = ["SUBMITTED", "ACKNOWLEDGED", "IN_PROGRESS"]; // Open311 "open"

// Ages a triage list is filtered by: filed within the last / more than so many days ago.
const AGES: { key: string; newer?: number; older?: number }[] = [
  { key: "" },
  { key: "1d", newer: 1 },
  { key: "7d", newer: 7 },
  { key: "30d", newer: 30 },
  { key: "older7d", older: 7 },
  { key: "older30d", older: 30 },
];

const DAY_MS = 24 * 3600 * 1000;
// How often the triage list asks for news while it is shown (polling: cheap, one list request).
export const REPORTS_POLL_MS = 10000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function reportId(r: ReportJson): string {
  return (r.name ?? "").replace(/^reports\//, "");
}

const statusText = (s: string | undefined) => t().reportStatuses[s ?? ""] ?? String(s ?? "");

// Remembered filters, so that coming back from a report keeps them.
const filter = { status: "", service: "", age: "" };

export function renderReportList(main: HTMLElement, ctx: Context): void {
  const api = new ReportsApi(ctx.session.city, ctx.session.token);
  const status = h("div", { role: "status", class: "live", id: "reports-status" }, t().loading);
  const statusSelect = h(
    "select",
    { id: "reports-status-filter" },
    h("option", { value: "" }, t().allStates),
    REPORT_STATUSES.map((s) => h("option", { value: s }, statusText(s))),
  );
  const serviceSelect = h("select", { id: "reports-service-filter" }, h("option", { value: "" }, t().allServices));
  const ageSelect = h(
    "select",
    { id: "reports-age-filter" },
    AGES.map((a) => h("option", { value: a.key }, t().ages[a.key] ?? a.key)),
  );
  statusSelect.value = filter.status;
  ageSelect.value = filter.age;
  const body = h("tbody");
  const mapSlot = h("div", { class: "map-slot" });
  let services: ServiceJson[] = [];
  let shownMap: { remove: () => void } | null = null;
  const serviceName = (name: string | undefined) =>
    services.find((s) => s.name === name)?.displayName ?? (name ?? "").replace(/^services\//, "");

  // Answers may arrive out of order when the filters change quickly: only the latest is shown.
  let generation = 0;
  let shownKey = ""; // what the table shows, to leave it (and the map) alone when nothing changed
  let shownIds = new Set<string>();
  // quiet: a refresh by the timer, which changes the page only if the reports did.
  const load = async (quiet = false) => {
    const mine = ++generation;
    if (!quiet) status.textContent = t().loading;
    const age = AGES.find((a) => a.key === filter.age);
    const now = Date.now();
    const reports = await api.list({
      status: filter.status,
      service: filter.service,
      startTime: age?.newer ? iso(now - age.newer * DAY_MS) : undefined,
      endTime: age?.older ? iso(now - age.older * DAY_MS) : undefined,
    });
    if (mine !== generation) return;
    const key = JSON.stringify(reports.map((r) => [r.name, r.status, r.updateTime]));
    if (quiet && key === shownKey) return;
    const added = quiet ? reports.filter((r) => !shownIds.has(r.name ?? "")).length : 0;
    shownKey = key;
    shownIds = new Set(reports.map((r) => r.name ?? ""));
    body.replaceChildren(
      ...reports.map((r) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `#/reports/${reportId(r)}` }, (r.description ?? "").slice(0, 80))),
          h("td", {}, serviceName(r.service)),
          h("td", {}, statusText(r.status)),
          h("td", {}, formatTime(r.createTime, ctx.timeZone)),
          h("td", {}, r.address ?? ""),
        ),
      ),
    );
    const count = reports.length ? t().reportCount(reports.length) : t().noReports;
    status.textContent = added > 0 ? `${t().newReports(added)} ${count}` : count;
    const located = reports.filter((r) => r.location?.latitude !== undefined && r.location?.longitude !== undefined);
    const map = pointsMap(
      t().mapLabel,
      located.map((r) => ({
        id: reportId(r),
        latitude: Number(r.location?.latitude),
        longitude: Number(r.location?.longitude),
        label: `${serviceName(r.service)}: ${statusText(r.status)}`,
        open: OPEN.includes(r.status ?? "SUBMITTED"),
      })),
      ctx.map,
      (id) => ctx.navigate(`#/reports/${id}`),
    );
    shownMap?.remove();
    mapSlot.replaceChildren(map.element);
    map.show();
    shownMap = map;
  };
  const reload = () => {
    const mine = generation + 1;
    load().catch((e: unknown) => {
      if (mine === generation) status.textContent = errorText(e);
    });
  };
  const tick = () => {
    // The screen was left: stop asking.
    if (!body.isConnected) {
      clearInterval(timer);
      return;
    }
    const mine = generation + 1;
    load(true).catch((e: unknown) => {
      if (mine === generation) status.textContent = errorText(e);
    });
  };
  const timer = setInterval(tick, REPORTS_POLL_MS);
  for (const [select, key] of [
    [statusSelect, "status"],
    [serviceSelect, "service"],
    [ageSelect, "age"],
  ] as const) {
    select.addEventListener("change", () => {
      filter[key] = select.value;
      reload();
    });
  }

  main.replaceChildren(
    h("h1", {}, t().reportsTitle),
    h(
      "form",
      { class: "filters", role: "search", onsubmit: (e: Event) => e.preventDefault() },
      h("label", { for: "reports-status-filter" }, t().stateFilter),
      statusSelect,
      h("label", { for: "reports-service-filter" }, t().service),
      serviceSelect,
      h("label", { for: "reports-age-filter" }, t().age),
      ageSelect,
    ),
    h("p", { class: "note" }, t().timeZoneNote(ctx.timeZone)),
    status,
    h(
      "table",
      { class: "articles reports" },
      h("caption", { class: "visually-hidden" }, t().reportsTitle),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, t().colReport),
          h("th", { scope: "col" }, t().service),
          h("th", { scope: "col" }, t().colState),
          h("th", { scope: "col" }, t().colFiled),
          h("th", { scope: "col" }, t().colAddress),
        ),
      ),
      body,
    ),
    mapSlot,
  );
  api
    .services()
    .then((list) => {
      services = list;
      serviceSelect.append(...list.map((s) => h("option", { value: s.name ?? "" }, s.displayName ?? s.name ?? "")));
      serviceSelect.value = filter.service;
    })
    .catch(() => {
      // The list still works by code; the filter offers "all" only.
    })
    .finally(reload);
}

export function renderReport(main: HTMLElement, ctx: Context, id: string): void {
  const api = new ReportsApi(ctx.session.city, ctx.session.token);
  const alert = h("div", { role: "alert", class: "live", id: "report-alert" });
  const status = h("div", { role: "status", class: "live", id: "report-status" });
  const details = h("div", { class: "report" }, t().loading);
  const history = h("ol", { class: "history", id: "report-history" });
  const heading = h("h1", {}, t().reportTitle);

  const newStatus = h(
    "select",
    { id: "r-status", name: "status", required: true },
    REPORT_STATUSES.filter((s) => s !== "SUBMITTED").map((s) => h("option", { value: s }, statusText(s))),
  );
  const note = h("textarea", { id: "r-note", name: "note", rows: 3, maxlength: 2000, "aria-describedby": "r-note-hint" });
  const department = h("input", { id: "r-department", name: "department", maxlength: 100, autocomplete: "off" });
  const duplicateOf = h("input", { id: "r-duplicate", name: "duplicate_of", autocomplete: "off", "aria-describedby": "r-duplicate-hint" });
  const duplicateField = h(
    "div",
    { class: "field", hidden: true },
    h("label", { for: "r-duplicate" }, t().duplicateOf),
    duplicateOf,
    h("p", { class: "note", id: "r-duplicate-hint" }, t().duplicateHint),
  );
  const submit = h("button", { type: "submit", id: "r-submit" }, t().changeStatus);
  newStatus.addEventListener("change", () => {
    duplicateField.hidden = newStatus.value !== "DUPLICATE";
  });

  const show = (r: ReportJson, serviceName: string) => {
    const photos = r.photoNames ?? [];
    details.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t().colState),
        h("dd", { id: "report-current-status" }, statusText(r.status)),
        h("dt", {}, t().service),
        h("dd", {}, serviceName),
        h("dt", {}, t().colFiled),
        h("dd", {}, formatTime(r.createTime, ctx.timeZone)),
        r.address ? [h("dt", {}, t().colAddress), h("dd", {}, r.address)] : null,
        r.location
          ? [
              h("dt", {}, t().location),
              h("dd", {}, `${Number(r.location.latitude).toFixed(5)}, ${Number(r.location.longitude).toFixed(5)}`),
            ]
          : null,
        r.department ? [h("dt", {}, t().department), h("dd", {}, r.department)] : null,
        r.contact?.name || r.contact?.email || r.contact?.phone
          ? [
              h("dt", {}, t().contact),
              h("dd", {}, [r.contact.name, r.contact.email, r.contact.phone].filter(Boolean).join(", ")),
            ]
          : null,
      ),
      h("h2", {}, t().description),
      h("p", { class: "description" }, r.description ?? ""),
      ...(photos.length
        ? [h(
            "section",
            { "aria-labelledby": "photos-heading" },
            h("h2", { id: "photos-heading" }, t().photos),
            h(
              "ul",
              { class: "photos" },
              photos.map((p, i) =>
                h(
                  "li",
                  {},
                  h("a", { href: api.photoUrl(p), target: "_blank", rel: "noopener" },
                    h("img", { src: api.photoUrl(p), alt: t().photoAlt(i + 1, photos.length), loading: "lazy" })),
                ),
              ),
            ),
          )]
        : []),
    );
    history.replaceChildren(
      ...(r.history ?? []).map((c) =>
        h(
          "li",
          {},
          h("strong", {}, statusText(c.status)),
          ` · ${formatTime(c.time, ctx.timeZone)}`,
          c.department ? ` · ${c.department}` : "",
          c.note ? h("p", { class: "history-note" }, c.note) : null,
        ),
      ),
    );
    if (!(r.history ?? []).length) history.replaceChildren(h("li", {}, t().noHistory));
    // The next step of the workflow is preselected; a closed report would be reopened.
    const next: Record<string, Report_StatusJson> = {
      SUBMITTED: "ACKNOWLEDGED",
      ACKNOWLEDGED: "IN_PROGRESS",
      IN_PROGRESS: "RESOLVED",
    };
    newStatus.value = next[r.status ?? "SUBMITTED"] ?? "IN_PROGRESS";
    duplicateField.hidden = newStatus.value !== "DUPLICATE";
  };

  const form = h(
    "form",
    { id: "report-workflow", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, t().changeStatus),
      h("div", { class: "field" }, h("label", { for: "r-status" }, t().newStatus), newStatus),
      h(
        "div",
        { class: "field" },
        h("label", { for: "r-note" }, t().noteToReporter),
        note,
        h("p", { class: "note", id: "r-note-hint" }, t().noteHint),
      ),
      h("div", { class: "field" }, h("label", { for: "r-department" }, t().department), department),
      duplicateField,
      submit,
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    alert.replaceChildren();
    status.textContent = "";
    if (newStatus.value === "REJECTED" && !note.value.trim()) {
      alert.textContent = t().rejectNeedsNote;
      note.focus();
      return;
    }
    const request: UpdateReportStatusRequestJson = {
      status: newStatus.value as Report_StatusJson,
      note: note.value,
      department: department.value,
    };
    if (newStatus.value === "DUPLICATE") {
      const original = duplicateOf.value.trim().replace(/^.*reports\//, "");
      request.duplicateOf = `reports/${original}`;
    }
    submit.disabled = true;
    api
      .updateStatus(id, request)
      .then((r) => {
        show(r, shownService);
        note.value = "";
        status.textContent = t().statusChanged(statusText(r.status));
      })
      .catch((err: unknown) => {
        // The form keeps what was typed.
        alert.textContent = errorText(err);
      })
      .finally(() => {
        submit.disabled = false;
      });
  });

  main.replaceChildren(
    h("p", {}, h("a", { href: "#/reports" }, t().backToReports)),
    heading,
    alert,
    status,
    details,
    h("section", { "aria-labelledby": "history-heading" }, h("h2", { id: "history-heading" }, t().history), history),
    form,
  );
  let shownService = "";
  Promise.all([api.report(id), api.services().catch(() => [] as ServiceJson[])])
    .then(([r, services]) => {
      shownService = services.find((x) => x.name === r.service)?.displayName ?? (r.service ?? "").replace(/^services\//, "");
      show(r, shownService);
      heading.textContent = t().reportHeading((r.description ?? "").slice(0, 60));
    })
    .catch((e: unknown) => {
      details.replaceChildren();
      alert.textContent = errorText(e);
    });
}
