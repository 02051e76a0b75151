// What an app does on its first day, over the JSON/HTTP API, with types generated from the
// protos: read the news, follow the sync log, report a defect anonymously, and handle an error.
// Usage: node dist/client.js http://127.0.0.1:8080 demo
import type { ListArticlesResponseJson } from "./gen/civitas/news/v1/news_pb.js";
import type { ReportJson } from "./gen/civitas/reports/v1/reports_pb.js";

const [base, city] = process.argv.slice(2);
if (!base || !city) throw new Error("usage: client.js BASE_URL CITY");

interface ApiError {
  error: { code: number; status: string; message: string };
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}/cities/${city}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json: unknown = await response.json();
  if (!response.ok) {
    const e = json as ApiError;
    throw new Error(`${response.status} ${e.error.status}: ${e.error.message}`);
  }
  return json as T;
}

const page = await call<ListArticlesResponseJson>("GET", "/v1/articles?page_size=5");
const titles = (page.articles ?? []).map((a) => a.title ?? "");
console.log(`articles: ${titles.length} first: ${titles[0] ?? "-"}`);

const report = await call<ReportJson>("POST", "/v1/reports", {
  service: "services/graffiti",
  description: "Graffiti an der Unterführung",
  location: { latitude: 51.5136, longitude: 7.4653 },
  deviceId: "example-app-install-1",
} satisfies ReportJson);
console.log(`report: ${report.name} status: ${report.status}`);

try {
  await call<ListArticlesResponseJson>("GET", "/v1/articles?page_size=5000");
  console.log("error: none");
} catch (e) {
  console.log(`error: ${(e as Error).message}`);
}
