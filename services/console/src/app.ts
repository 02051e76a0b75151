// The civitas console: sign-in, navigation and the screens. Routes live in the URL fragment
// (#/news, #/news/new, #/news/<id>), so the gateway serves one index.html.
import { devToken, loadSettings, type Settings } from "./api";
import { h } from "./dom";
import { initialLang, lang, setLang, t, type Lang } from "./i18n";
import { renderEditor, renderList } from "./news";
import { beginSignIn, completeSignIn } from "./oidc";
import { renderBackups } from "./backups";
import { renderEventEditor, renderEvents } from "./events";
import { renderModules } from "./modules";
import { renderParticipation } from "./participation";
import { renderReport, renderReportList } from "./reports";
import type { Context } from "./screen";
import { canEditNews, hasRole, loadSession, saveSession, sessionFromToken, type Session } from "./session";

// The screens a role is offered, in the navigation's order: [path prefix, label, may use].
function screens(s: Session): { path: string; label: string }[] {
  const all = [
    { path: "/news", label: t().navNews, ok: true },
    { path: "/events", label: t().navEvents, ok: hasRole(s, "editor") },
    { path: "/participation", label: t().navParticipation, ok: hasRole(s, "editor") || hasRole(s, "moderator") },
    { path: "/reports", label: t().navReports, ok: hasRole(s, "editor") },
    { path: "/modules", label: t().navModules, ok: hasRole(s, "admin") },
    { path: "/backups", label: t().navBackups, ok: hasRole(s, "admin") },
  ];
  return all.filter((x) => x.ok);
}

let settings: Settings = { cities: [], roles_claim: "civitas_roles", dev_sign_in: false };
let session: Session | null = null;
let signInError = "";

function city() {
  const id = session?.city ?? settings.cities[0]?.id ?? "";
  return settings.cities.find((c) => c.id === id) ?? settings.cities[0];
}

function render(): void {
  const root = document.getElementById("app");
  if (!root) return;
  const c = city();
  document.title = `${t().appName}${c ? " – " + c.display_name : ""}`;
  const main = h("main", { id: "main", tabindex: -1 });
  const switcher = h(
    "button",
    { type: "button", id: "lang-switch", lang: lang() === "de" ? "en" : "de", "aria-label": t().switchLangLabel },
    t().switchLang,
  );
  switcher.addEventListener("click", () => {
    setLang((lang() === "de" ? "en" : "de") as Lang, true);
    render();
    document.getElementById("lang-switch")?.focus();
  });
  const header = h(
    "header",
    { class: "top" },
    h("a", { href: "#main", class: "skip" }, t().skip),
    h("p", { class: "brand" }, t().appName, c ? h("span", { class: "city" }, ` · ${c.display_name}`) : null),
    session
      ? h(
          "p",
          { class: "who" },
          t().signedInAs(session.subject, session.roles.map((r) => t().roles[r] ?? r).join(", ") || "–"),
          session.development ? h("strong", { class: "dev-badge" }, " DEV") : null,
        )
      : null,
    switcher,
    session
      ? h(
          "button",
          {
            type: "button",
            id: "sign-out",
            onclick: () => {
              // Unsaved text stays with its author: nothing of it is left for the next user.
              for (const key of Object.keys(localStorage)) {
                if (key.startsWith("civitas.console.draft.")) localStorage.removeItem(key);
              }
              saveSession(null);
              session = null;
              location.hash = "#/";
              render();
            },
          },
          t().signOut,
        )
      : null,
  );
  const route = location.hash.replace(/^#/, "") || "/news";
  const nav = session
    ? h(
        "nav",
        { "aria-label": t().nav },
        h(
          "ul",
          {},
          screens(session).map((x) =>
            h(
              "li",
              {},
              h(
                "a",
                {
                  href: `#${x.path}`,
                  "aria-current": route === x.path || route.startsWith(`${x.path}/`) ? "page" : undefined,
                },
                x.label,
              ),
            ),
          ),
        ),
      )
    : null;
  root.replaceChildren(header, ...(nav ? [nav] : []), main);

  if (!session || !c) {
    renderSignIn(main);
    return;
  }
  const ctx: Context = {
    session,
    timeZone: c.time_zone || "Europe/Berlin",
    defaultLanguage: c.default_language || "de",
    map: c.map,
    navigate: (hash) => {
      location.hash = hash;
    },
  };
  const m = /^\/news\/([A-Za-z0-9_-]+)$/.exec(route);
  const report = /^\/reports\/([A-Za-z0-9_-]+)$/.exec(route);
  const event = /^\/events\/([A-Za-z0-9_-]+)$/.exec(route);
  // Only what the role may do is offered; the gateway still refuses everything else.
  if (canEditNews(session) && route === "/news/new") renderEditor(main, ctx, null);
  else if (canEditNews(session) && m && m[1]) renderEditor(main, ctx, m[1]);
  else if ((hasRole(session, "editor") || hasRole(session, "moderator")) && route.startsWith("/participation"))
    renderParticipation(main, ctx, route);
  else if (hasRole(session, "editor") && route === "/events") renderEvents(main, ctx);
  else if (hasRole(session, "editor") && route === "/events/new") renderEventEditor(main, ctx, null);
  else if (hasRole(session, "editor") && event && event[1]) renderEventEditor(main, ctx, event[1]);
  else if (hasRole(session, "admin") && route === "/modules") renderModules(main, ctx);
  else if (hasRole(session, "admin") && route === "/backups") renderBackups(main, ctx);
  else if (hasRole(session, "editor") && route === "/reports") renderReportList(main, ctx);
  else if (hasRole(session, "editor") && report && report[1]) renderReport(main, ctx, report[1]);
  else renderList(main, ctx);
}

function renderSignIn(main: HTMLElement): void {
  const parts: Node[] = [h("h1", {}, t().signInTitle)];
  const oidcError = h("div", { role: "alert", class: "live", id: "sign-in-error" }, signInError ? t().error(signInError) : "");
  parts.push(oidcError);
  const withProvider = settings.cities.filter((c) => c.oidc);
  if (withProvider.length > 0) {
    const citySelect = h(
      "select",
      { id: "oidc-city" },
      withProvider.map((c) => h("option", { value: c.id }, c.display_name)),
    );
    const form = h(
      "form",
      { id: "oidc-sign-in" },
      h(
        "fieldset",
        {},
        h("legend", {}, t().oidcTitle),
        h("p", {}, t().oidcIntro),
        h("div", { class: "field" }, h("label", { for: "oidc-city" }, t().city), citySelect),
        h("button", { type: "submit", id: "oidc-sign-in-button" }, t().oidcButton),
      ),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const c = withProvider.find((x) => x.id === citySelect.value);
      if (!c?.oidc) return;
      beginSignIn(c.id, c.oidc).catch((err: unknown) => {
        oidcError.textContent = t().error(err instanceof Error ? err.message : String(err));
      });
    });
    parts.push(form);
  }
  if (settings.dev_sign_in && settings.cities.length > 0) {
    const alert = h("div", { role: "alert", class: "live" });
    const citySelect = h(
      "select",
      { id: "dev-city" },
      settings.cities.map((c) => h("option", { value: c.id }, c.display_name)),
    );
    const roles = ["editor", "moderator", "admin", "citizen"];
    const form = h(
      "form",
      { class: "dev-sign-in", id: "dev-sign-in" },
      h(
        "fieldset",
        {},
        h("legend", {}, t().devTitle),
        h("p", { class: "warning" }, t().devWarning),
        h("div", { class: "field" }, h("label", { for: "dev-city" }, t().city), citySelect),
        h(
          "fieldset",
          { class: "roles" },
          h("legend", {}, t().role),
          roles.map((r, i) =>
            h(
              "div",
              {},
              h("input", { type: "radio", name: "role", id: `role-${r}`, value: r, checked: i === 0 }),
              h("label", { for: `role-${r}` }, t().roles[r] ?? r),
            ),
          ),
        ),
        h("button", { type: "submit", id: "dev-sign-in-button" }, t().signIn),
      ),
      alert,
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const role = (form.querySelector("input[name=role]:checked") as HTMLInputElement | null)?.value ?? "editor";
      devToken(citySelect.value, role)
        .then((token) => {
          session = sessionFromToken(token, citySelect.value, settings.roles_claim, true);
          saveSession(session);
          location.hash = "#/news";
          render();
        })
        .catch((err: unknown) => {
          alert.textContent = t().error(err instanceof Error ? err.message : String(err));
        });
    });
    parts.push(form);
  } else if (withProvider.length === 0) {
    parts.push(h("p", {}, t().noSignIn));
  }
  main.replaceChildren(...parts);
}

async function start(): Promise<void> {
  setLang(initialLang(), false);
  try {
    settings = await loadSettings();
  } catch {
    // Shown as "no sign-in set up" below; the API may still be reachable.
  }
  session = loadSession();
  try {
    const back = await completeSignIn();
    if (back) {
      session = sessionFromToken(back.token, back.city, settings.roles_claim, false);
      saveSession(session);
      if (!location.hash) history.replaceState(null, "", "#/news");
    }
  } catch (err) {
    signInError = err instanceof Error ? err.message : String(err);
    session = null;
    saveSession(null);
  }
  if (session && !settings.cities.some((c) => c.id === session?.city)) session = null;
  window.addEventListener("hashchange", render);
  render();
}

void start();
