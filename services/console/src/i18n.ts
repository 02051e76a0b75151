// UI text in German and English. The browser's language picks one; the user may switch.
export type Lang = "de" | "en";

const de = {
  appName: "civitas Konsole",
  skip: "Zum Inhalt springen",
  nav: "Hauptnavigation",
  navNews: "Nachrichten",
  switchLang: "English",
  switchLangLabel: "Switch to English",
  signOut: "Abmelden",
  signedInAs: (who: string, roles: string) => `Angemeldet als ${who} (${roles})`,
  signInTitle: "Anmelden",
  devTitle: "Entwicklungs-Anmeldung",
  devWarning:
    "Nur für die Demo: Diese Anmeldung gibt es nur, solange das Gateway mit dem Entwicklungsschlüssel der Demo läuft. Wählen Sie eine Rolle.",
  role: "Rolle",
  roles: { citizen: "Bürgerin/Bürger", editor: "Redaktion", moderator: "Moderation", admin: "Verwaltung" } as Record<string, string>,
  signIn: "Anmelden",
  noSignIn:
    "Für diese Stadt ist keine Anmeldung eingerichtet. Die Verwaltung trägt den Identitätsanbieter der Stadt in deren Konfiguration ein (console: oidc_issuer, oidc_client_id).",
  oidcTitle: "Mit dem Konto der Stadt",
  oidcIntro: "Sie werden zur Anmeldeseite Ihrer Stadt weitergeleitet und danach hierher zurück.",
  oidcButton: "Beim Identitätsanbieter anmelden",
  city: "Stadt",
  newsTitle: "Nachrichten",
  newArticle: "Neuer Artikel",
  stateFilter: "Status",
  allStates: "Alle",
  states: { DRAFT: "Entwurf", SCHEDULED: "Geplant", PUBLISHED: "Veröffentlicht", ARCHIVED: "Archiviert" } as Record<string, string>,
  search: "Suche im Titel",
  colTitle: "Titel",
  colState: "Status",
  colLanguage: "Sprache",
  colUpdated: "Geändert",
  colPublish: "Erscheint",
  noArticles: "Keine Artikel gefunden.",
  loading: "Wird geladen …",
  readOnly: "Ihre Rolle darf Nachrichten lesen, aber nicht bearbeiten.",
  editTitle: "Artikel bearbeiten",
  createTitle: "Neuer Artikel",
  back: "Zurück zur Liste",
  fTitle: "Titel",
  fTeaser: "Kurzfassung",
  fBody: "Text",
  fLanguage: "Sprache",
  languages: { de: "Deutsch", en: "Englisch" } as Record<string, string>,
  fSchedule: "Veröffentlichen am (Zeit der Stadt)",
  save: "Entwurf speichern",
  publishNow: "Jetzt veröffentlichen",
  schedule: "Planen",
  saved: "Gespeichert.",
  published: "Veröffentlicht.",
  scheduled: (when: string) => `Geplant für ${when}.`,
  stateIs: (s: string) => `Status: ${s}`,
  needSchedule: "Bitte Datum und Uhrzeit für die Planung angeben.",
  conflict:
    "Dieser Artikel wurde inzwischen von jemand anderem geändert. Ihr Text ist nicht verloren.",
  reloadKeep: "Neueste Fassung laden, meinen Text behalten",
  reloaded: (title: string) =>
    `Die neueste Fassung („${title}“) wurde geladen. Ihr Text ist erhalten; speichern Sie erneut, um ihn zu übernehmen.`,
  restored: "Ungespeicherter Text aus Ihrer letzten Sitzung wurde wiederhergestellt.",
  error: (m: string) => `Fehler: ${m}`,
  timeZoneNote: (tz: string) => `Zeiten in ${tz}`,
};

type Text = typeof de;

const en: Text = {
  appName: "civitas console",
  skip: "Skip to content",
  nav: "Main navigation",
  navNews: "News",
  switchLang: "Deutsch",
  switchLangLabel: "Auf Deutsch umschalten",
  signOut: "Sign out",
  signedInAs: (who, roles) => `Signed in as ${who} (${roles})`,
  signInTitle: "Sign in",
  devTitle: "Development sign-in",
  devWarning:
    "Demo only: this sign-in exists only while the gateway runs with the demo's development key. Choose a role.",
  role: "Role",
  roles: { citizen: "Citizen", editor: "Editor", moderator: "Moderator", admin: "Administrator" },
  signIn: "Sign in",
  noSignIn:
    "No sign-in is set up for this city. An administrator enters the city's identity provider in its configuration (console: oidc_issuer, oidc_client_id).",
  oidcTitle: "With the city's account",
  oidcIntro: "You are taken to your city's sign-in page and then back here.",
  oidcButton: "Sign in with the identity provider",
  city: "City",
  newsTitle: "News",
  newArticle: "New article",
  stateFilter: "State",
  allStates: "All",
  states: { DRAFT: "Draft", SCHEDULED: "Scheduled", PUBLISHED: "Published", ARCHIVED: "Archived" },
  search: "Search titles",
  colTitle: "Title",
  colState: "State",
  colLanguage: "Language",
  colUpdated: "Changed",
  colPublish: "Appears",
  noArticles: "No articles found.",
  loading: "Loading …",
  readOnly: "Your role may read news but not edit it.",
  editTitle: "Edit article",
  createTitle: "New article",
  back: "Back to the list",
  fTitle: "Title",
  fTeaser: "Teaser",
  fBody: "Text",
  fLanguage: "Language",
  languages: { de: "German", en: "English" },
  fSchedule: "Publish at (city time)",
  save: "Save draft",
  publishNow: "Publish now",
  schedule: "Schedule",
  saved: "Saved.",
  published: "Published.",
  scheduled: (when) => `Scheduled for ${when}.`,
  stateIs: (s) => `State: ${s}`,
  needSchedule: "Please enter a date and time to schedule.",
  conflict: "Someone else changed this article meanwhile. Your text is not lost.",
  reloadKeep: "Load the latest version, keep my text",
  reloaded: (title) =>
    `The latest version ("${title}") is loaded. Your text is kept; save again to apply it.`,
  restored: "Unsaved text from your last visit was restored.",
  error: (m) => `Error: ${m}`,
  timeZoneNote: (tz) => `Times in ${tz}`,
};

const KEY = "civitas.console.lang";

export function initialLang(): Lang {
  const stored = localStorage.getItem(KEY);
  if (stored === "de" || stored === "en") return stored;
  for (const l of navigator.languages ?? [navigator.language]) {
    if (l.toLowerCase().startsWith("de")) return "de";
    if (l.toLowerCase().startsWith("en")) return "en";
  }
  return "de";
}

let current: Lang = "de";
export function setLang(l: Lang, remember: boolean): void {
  current = l;
  if (remember) localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
}
export function lang(): Lang {
  return current;
}
export function t(): Text {
  return current === "de" ? de : en;
}
