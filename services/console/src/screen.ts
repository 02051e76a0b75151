// What every screen is given: the signed-in user and the city's settings.
import { ApiError } from "./api";
import { t } from "./i18n";
import type { MapSettings } from "./map";
import type { Session } from "./session";

export interface Context {
  session: Session;
  timeZone: string;
  defaultLanguage: string;
  map: MapSettings | undefined;
  navigate: (hash: string) => void;
}

// The server's message, as the user sees it: in the user's language where the server gave a
// reason code the console knows (docs/errors.md), else the server's own words.
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return t().error(t().reasons[e.reason] ?? e.message);
  return t().error(e instanceof Error ? e.message : String(e));
}
