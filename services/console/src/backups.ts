// The backups screen (admins): the city's backups, a new one while the city serves, and the
// check of one backup's files against their checksums.
import { h } from "./dom";
import type { BackupJson, BackupProgressJson, ListBackupsResponseJson } from "./gen/civitas/gateway/v1/admin_pb";
import { lang, t } from "./i18n";
import { AdminApi } from "./modules";
import { errorText, type Context } from "./screen";
import { formatTime } from "./time";

export class BackupsApi extends AdminApi {
  async list(): Promise<BackupJson[]> {
    return (await this.getJson<ListBackupsResponseJson>(`${this.parent()}/backups`)).backups ?? [];
  }
  // Over HTTP the stream's messages come as one array when the backup is done.
  create(): Promise<BackupProgressJson[]> {
    return this.postJson<BackupProgressJson[]>(`${this.parent()}/backups`, {});
  }
  verify(id: string): Promise<BackupJson> {
    return this.postJson<BackupJson>(`${this.parent()}/backups/${encodeURIComponent(id)}:verify`, {});
  }
}

export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${new Intl.NumberFormat(lang() === "de" ? "de-DE" : "en-GB", { maximumFractionDigits: u ? 1 : 0 }).format(v)} ${units[u]}`;
}

export function renderBackups(main: HTMLElement, ctx: Context): void {
  const api = new BackupsApi(ctx.session.city, ctx.session.token);
  const status = h("div", { role: "status", class: "live", id: "backups-status" }, t().loading);
  const alert = h("div", { role: "alert", class: "live", id: "backups-alert" });
  const progress = h("progress", { id: "backup-progress", "aria-label": t().backupRunning, hidden: true });
  const body = h("tbody", { id: "backups" });
  const where = h("p", { class: "note", id: "backup-dir" });

  const load = async () => {
    const backups = await api.list();
    body.replaceChildren(
      ...[...backups].reverse().map((b) => {
        const id = String(b.backupId ?? "");
        const result = h("td", { class: "verified" }, "–");
        const verify = h("button", { type: "button", "aria-label": t().verifyLabel(id) }, t().verify);
        verify.addEventListener("click", () => {
          verify.disabled = true;
          result.textContent = t().verifying;
          api
            .verify(id)
            .then((v) => (result.textContent = t().verified(v.fileCount ?? 0)))
            .catch((e: unknown) => {
              result.textContent = errorText(e);
              result.classList.add("msg-alert");
            })
            .finally(() => (verify.disabled = false));
        });
        return h(
          "tr",
          { "data-backup": id },
          h("th", { scope: "row" }, id),
          h("td", {}, formatTime(new Date(Number(b.createTimeUnix ?? 0) * 1000).toISOString(), ctx.timeZone)),
          h("td", {}, formatBytes(Number(b.sizeBytes ?? 0))),
          h("td", {}, String(b.fileCount ?? 0)),
          h("td", {}, verify),
          result,
        );
      }),
    );
    where.textContent = backups[0]?.backupDir ? t().backupDir(backups[0].backupDir) : "";
    status.textContent = t().backupCount(backups.length);
  };

  const create = h("button", { type: "button", id: "create-backup" }, t().createBackup);
  create.addEventListener("click", () => {
    alert.textContent = "";
    create.disabled = true;
    progress.hidden = false;
    status.textContent = t().backupRunning;
    const started = Date.now();
    api
      .create()
      .then(async (steps) => {
        const done = steps[steps.length - 1]?.backup;
        await load();
        status.textContent = done
          ? t().backupDone(String(done.backupId ?? ""), formatBytes(Number(done.sizeBytes ?? 0)), Math.max(1, Math.round((Date.now() - started) / 1000)))
          : t().backupCount(body.children.length);
      })
      .catch((e: unknown) => {
        status.textContent = "";
        alert.textContent = errorText(e);
      })
      .finally(() => {
        create.disabled = false;
        progress.hidden = true;
      });
  });

  main.replaceChildren(
    h("h1", {}, t().backupsTitle),
    h("p", {}, t().backupsIntro),
    h("div", { class: "actions" }, create, progress),
    alert,
    status,
    h(
      "table",
      { class: "articles backups" },
      h("caption", { class: "visually-hidden" }, t().backupsTitle),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, t().backupNumber),
          h("th", { scope: "col" }, t().colTime),
          h("th", { scope: "col" }, t().backupSize),
          h("th", { scope: "col" }, t().backupFiles),
          h("th", { scope: "col" }, t().verify),
          h("th", { scope: "col" }, t().verifyResult),
        ),
      ),
      body,
    ),
    where,
    h("p", { class: "note" }, t().adminReach),
  );
  load().catch((e: unknown) => (status.textContent = errorText(e)));
}
