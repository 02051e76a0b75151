// The signed-in user: a bearer token kept for this browser tab only. The roles read from it
// decide what the console offers; the gateway still checks every call.
export interface Session {
  token: string;
  city: string;
  subject: string;
  roles: string[];
  expires: number; // unix seconds
  development: boolean;
}

const KEY = "civitas.console.session";

function decodePayload(token: string): Record<string, unknown> | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export function sessionFromToken(token: string, city: string, rolesClaim: string, development: boolean): Session | null {
  const p = decodePayload(token);
  if (!p) return null;
  const claim = (p[rolesClaim] ?? {}) as Record<string, unknown>;
  const roles = new Set<string>();
  for (const key of [city, "*"]) {
    const list = claim[key];
    if (Array.isArray(list)) for (const r of list) if (typeof r === "string") roles.add(r);
  }
  return {
    token,
    city,
    subject: typeof p.sub === "string" ? p.sub : "?",
    roles: [...roles],
    expires: typeof p.exp === "number" ? p.exp : 0,
    development,
  };
}

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (s.expires && s.expires * 1000 < Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

export function canEditNews(s: Session): boolean {
  return s.roles.includes("editor") || s.roles.includes("admin");
}

// Admins may do what editors and moderators do (as the gateway's role check allows).
export function hasRole(s: Session, role: "editor" | "moderator" | "admin"): boolean {
  return s.roles.includes(role) || s.roles.includes("admin");
}
