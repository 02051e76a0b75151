// The gateway's JSON/HTTP API for one city. Request and response shapes are the JSON forms of the
// protos (generated into ./gen by buf).
import type {
  ArticleHistoryEntryJson,
  ArticleJson,
  CategoryJson,
  ListArticleHistoryResponseJson,
  ListArticlesResponseJson,
  ListCategoriesResponseJson,
  PublishArticleRequestJson,
} from "./gen/civitas/news/v1/news_pb";

export interface Settings {
  cities: {
    id: string;
    display_name: string;
    default_language: string;
    time_zone: string;
    // Map tiles for the defect reports' map; tile_url "" = no background.
    map?: { tile_url: string; attribution: string };
    oidc: { issuer: string; client_id: string; scope: string } | null;
  }[];
  roles_claim: string;
  dev_sign_in: boolean;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly grpcStatus: string,
    message: string,
    // The ErrorInfo reason the gateway or module gave (docs/errors.md), or "".
    readonly reason = "",
  ) {
    super(message);
  }
  get conflict(): boolean {
    return this.status === 409 || this.grpcStatus === "ABORTED";
  }
}

export async function call<T>(method: string, url: string, token: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (
      json as
        | { error?: { status?: string; message?: string; details?: { "@type"?: string; reason?: string }[] } }
        | undefined
    )?.error;
    const info = err?.details?.find((d) => d["@type"]?.endsWith("google.rpc.ErrorInfo"));
    throw new ApiError(
      res.status,
      err?.status ?? "",
      err?.message ?? (text.trim() || res.statusText),
      info?.reason ?? "",
    );
  }
  return json as T;
}

export async function loadSettings(): Promise<Settings> {
  return call<Settings>("GET", "/console/settings.json", null);
}

export async function devToken(city: string, role: string): Promise<string> {
  const r = await call<{ token: string }>("POST", "/console/dev-token", null, { city, role });
  return r.token;
}

// One city's JSON/HTTP API (the routes of the protos' google.api.http annotations), signed in.
export class CityApi {
  constructor(
    protected readonly city: string,
    protected readonly token: string,
  ) {}

  protected url(path: string): string {
    return `/cities/${encodeURIComponent(this.city)}/v1/${path}`;
  }

  protected getJson<T>(path: string, query?: Record<string, string | undefined>): Promise<T> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") q.set(k, v);
    const qs = q.toString();
    return call<T>("GET", this.url(qs ? `${path}?${qs}` : path), this.token);
  }

  protected postJson<T>(path: string, body: unknown): Promise<T> {
    return call<T>("POST", this.url(path), this.token, body);
  }
}

export class NewsApi extends CityApi {

  // Every article an editor may see (drafts, scheduled, archived too), newest change first.
  async listAll(): Promise<ArticleJson[]> {
    const all: ArticleJson[] = [];
    let pageToken = "";
    for (let page = 0; page < 20; page++) {
      const q = new URLSearchParams({ page_size: "100", show_unpublished: "true" });
      if (pageToken) q.set("page_token", pageToken);
      const r = await call<ListArticlesResponseJson>("GET", this.url(`articles?${q}`), this.token);
      all.push(...(r.articles ?? []));
      pageToken = r.nextPageToken ?? "";
      if (!pageToken) break;
    }
    return all;
  }

  async listPublished(): Promise<ArticleJson[]> {
    const r = await call<ListArticlesResponseJson>("GET", this.url("articles?page_size=100"), this.token);
    return r.articles ?? [];
  }

  get(id: string): Promise<ArticleJson> {
    return call<ArticleJson>("GET", this.url(`articles/${encodeURIComponent(id)}`), this.token);
  }

  create(article: ArticleJson): Promise<ArticleJson> {
    return call<ArticleJson>("POST", this.url("articles"), this.token, article);
  }

  update(id: string, article: ArticleJson, mask: string[]): Promise<ArticleJson> {
    const q = new URLSearchParams({ update_mask: mask.join(",") });
    return call<ArticleJson>("PATCH", this.url(`articles/${encodeURIComponent(id)}?${q}`), this.token, article);
  }

  async categories(languageCode: string): Promise<CategoryJson[]> {
    const q = new URLSearchParams({ language_code: languageCode });
    return (await call<ListCategoriesResponseJson>("GET", this.url(`categories?${q}`), this.token)).categories ?? [];
  }

  // Four-eyes review: approves the version with `etag` (not the author's or last editor's call).
  approve(id: string, etag: string): Promise<ArticleJson> {
    return call<ArticleJson>("POST", this.url(`articles/${encodeURIComponent(id)}:approve`), this.token, { etag });
  }

  // Who changed the article, what and when; newest first (the first 100).
  async history(id: string): Promise<ArticleHistoryEntryJson[]> {
    const r = await call<ListArticleHistoryResponseJson>(
      "GET",
      this.url(`articles/${encodeURIComponent(id)}/history?page_size=100`),
      this.token,
    );
    return r.entries ?? [];
  }

  publish(id: string, request: PublishArticleRequestJson): Promise<ArticleJson> {
    return call<ArticleJson>("POST", this.url(`articles/${encodeURIComponent(id)}:publish`), this.token, request);
  }
}

export function articleId(a: ArticleJson): string {
  return (a.name ?? "").replace(/^articles\//, "");
}
