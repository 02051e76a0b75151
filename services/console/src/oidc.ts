// Sign-in with the city's identity provider: OpenID Connect, authorization code flow with PKCE
// (RFC 7636, S256) for a public client. The verifier and state live in this tab's sessionStorage
// between the redirect to the provider and the way back.
export interface OidcSettings {
  issuer: string;
  client_id: string;
  scope: string;
}

interface Pending {
  city: string;
  state: string;
  verifier: string;
  tokenEndpoint: string;
  clientId: string;
  redirectUri: string;
}

const KEY = "civitas.console.oidc";

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function redirectUri(): string {
  return `${location.origin}/console/`;
}

// Sends the browser to the provider's authorization endpoint.
export async function beginSignIn(city: string, oidc: OidcSettings): Promise<void> {
  const res = await fetch(`${oidc.issuer}/.well-known/openid-configuration`, { credentials: "omit" });
  if (!res.ok) throw new Error(`${oidc.issuer}: discovery answered ${res.status}`);
  const discovery = (await res.json()) as { authorization_endpoint?: string; token_endpoint?: string; issuer?: string };
  if (!discovery.authorization_endpoint || !discovery.token_endpoint) {
    throw new Error(`${oidc.issuer}: the discovery document names no authorization or token endpoint`);
  }
  const pending: Pending = {
    city,
    state: randomString(),
    verifier: randomString() + randomString(),
    tokenEndpoint: discovery.token_endpoint,
    clientId: oidc.client_id,
    redirectUri: redirectUri(),
  };
  sessionStorage.setItem(KEY, JSON.stringify(pending));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: pending.redirectUri,
    scope: oidc.scope || "openid",
    state: pending.state,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
  });
  const sep = discovery.authorization_endpoint.includes("?") ? "&" : "?";
  location.assign(`${discovery.authorization_endpoint}${sep}${q}`);
}

export interface Completed {
  city: string;
  token: string;
}

// On the way back: null when this load is no answer from a provider; throws when the answer is
// an error, is not for this tab (state), or the code does not turn into a token.
export async function completeSignIn(): Promise<Completed | null> {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const raw = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  history.replaceState(null, "", `${location.pathname}${location.hash}`);
  const pending = raw ? (JSON.parse(raw) as Pending) : null;
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("the sign-in answer does not belong to a sign-in started here; please sign in again");
  }
  if (params.has("error")) {
    throw new Error(params.get("error_description") || params.get("error") || "sign-in refused");
  }
  const res = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    credentials: "omit",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code") ?? "",
      redirect_uri: pending.redirectUri,
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    access_token?: string;
    id_token?: string;
    error?: string;
    error_description?: string;
  };
  if (!res.ok) throw new Error(body.error_description || body.error || `token endpoint answered ${res.status}`);
  // The gateway verifies JWTs: the access token when it is one, else the ID token.
  const isJwt = (t?: string) => !!t && t.split(".").length === 3;
  const token = isJwt(body.access_token) ? body.access_token : body.id_token;
  if (!token || !isJwt(token)) throw new Error("the identity provider returned no JSON Web Token");
  return { city: pending.city, token };
}
