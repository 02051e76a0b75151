// The modules screen (admins): each module of the city with its version, ABI and state; install
// or upgrade from a bundle or a registry, and roll back. Every change is first checked by the
// gateway (validate_only) and then confirmed in a dialog that names the version change.
import { CityApi } from "./api";
import { h } from "./dom";
import type {
  InstallModuleRequestJson,
  ListModulesResponseJson,
  ModuleJson,
  RollbackModuleRequestJson,
  RollbackModuleResponseJson,
} from "./gen/civitas/gateway/v1/admin_pb";
import { t } from "./i18n";
import { errorText, type Context } from "./screen";

// AdminService over JSON/HTTP: the routes begin with /v1/cities (docs/console.md).
export class AdminApi extends CityApi {
  protected parent(): string {
    return `cities/${encodeURIComponent(this.city)}`;
  }
  async modules(): Promise<ModuleJson[]> {
    return (await this.getJson<ListModulesResponseJson>(`${this.parent()}/modules`)).modules ?? [];
  }
  install(request: InstallModuleRequestJson): Promise<ModuleJson> {
    return this.postJson<ModuleJson>(`${this.parent()}/modules:install`, request);
  }
  rollback(moduleId: string, request: RollbackModuleRequestJson): Promise<RollbackModuleResponseJson> {
    return this.postJson<RollbackModuleResponseJson>(
      `${this.parent()}/modules/${encodeURIComponent(moduleId)}:rollback`,
      request,
    );
  }
}

// A modal dialog that asks once; resolves true when confirmed. Esc and "cancel" resolve false.
export function confirmDialog(title: string, lines: string[], confirmLabel: string, extra?: HTMLElement): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", id: "confirm-yes" }, confirmLabel);
    const cancel = h("button", { type: "button", id: "confirm-no", class: "secondary" }, t().cancel);
    const dialog = h(
      "dialog",
      { "aria-labelledby": "confirm-title", id: "confirm" },
      h("h2", { id: "confirm-title" }, title),
      lines.map((l) => h("p", {}, l)),
      extra ?? null,
      h("div", { class: "actions" }, ok, cancel),
    );
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}

const stateText = (m: ModuleJson) =>
  m.state === "MODULE_STATE_SERVING" ? t().serving : m.state === "MODULE_STATE_FAILED" ? t().failed : "–";

export function renderModules(main: HTMLElement, ctx: Context): void {
  const api = new AdminApi(ctx.session.city, ctx.session.token);
  const status = h("div", { role: "status", class: "live", id: "modules-status" }, t().loading);
  const alert = h("div", { role: "alert", class: "live", id: "modules-alert" });
  const body = h("tbody", { id: "modules" });

  const load = async () => {
    const modules = await api.modules();
    body.replaceChildren(
      ...modules.map((m) => {
        const id = m.moduleId ?? "";
        const rollback = m.previousVersion
          ? h("button", { type: "button", class: "rollback", "aria-label": t().rollbackLabel(id, m.previousVersion) }, t().rollbackTo(m.previousVersion))
          : null;
        rollback?.addEventListener("click", () => void rollbackModule(m));
        return h(
          "tr",
          { "data-module": id },
          h("th", { scope: "row" }, id, m.publisher ? h("span", { class: "note" }, ` · ${m.publisher}`) : null),
          h("td", { class: "version" }, m.version || "–"),
          h("td", {}, m.abiVersion || "–"),
          h("td", { class: "state" }, stateText(m), m.error ? h("span", { class: "note" }, ` ${m.error}`) : null),
          h("td", {}, m.supportsPersonalData ? t().yes : t().no),
          h("td", {}, rollback ?? "–"),
        );
      }),
    );
    status.textContent = t().moduleCount(modules.length);
  };
  const reload = () => load().catch((e: unknown) => (status.textContent = errorText(e)));

  const rollbackModule = async (m: ModuleJson) => {
    alert.textContent = "";
    const id = m.moduleId ?? "";
    const checkpoint = h("input", { type: "checkbox", id: "restore-checkpoint" });
    const extra = h("div", { class: "check" }, checkpoint, h("label", { for: "restore-checkpoint" }, t().restoreCheckpoint));
    try {
      const plan = await api.rollback(id, { validateOnly: true });
      const data = t().dataHandling[plan.dataHandling ?? ""] ?? "";
      const yes = await confirmDialog(
        t().rollbackTitle,
        [t().versionChange(id, m.version ?? "", m.previousVersion ?? ""), data],
        t().rollbackConfirm,
        extra,
      );
      if (!yes) {
        status.textContent = t().nothingChanged;
        return;
      }
      const done = await api.rollback(id, { restoreCheckpoint: checkpoint.checked });
      await load();
      status.textContent = t().rolledBack(id, done.module?.version ?? "");
    } catch (e) {
      alert.textContent = errorText(e);
    }
  };

  // Install / upgrade.
  const sourceBundle = h("input", { type: "radio", name: "source", id: "src-bundle", value: "bundle", checked: true });
  const sourceRegistry = h("input", { type: "radio", name: "source", id: "src-registry", value: "registry" });
  const bundlePath = h("input", { id: "m-bundle", autocomplete: "off", "aria-describedby": "m-bundle-hint" });
  const registry = h("input", { id: "m-registry", autocomplete: "off" });
  const moduleId = h("input", { id: "m-module", autocomplete: "off" });
  const version = h("input", { id: "m-version", autocomplete: "off" });
  const force = h("input", { type: "checkbox", id: "m-force" });
  const bundleFields = h(
    "div",
    { class: "field" },
    h("label", { for: "m-bundle" }, t().bundlePath),
    bundlePath,
    h("p", { class: "note", id: "m-bundle-hint" }, t().bundleHint),
  );
  const registryFields = h(
    "div",
    { hidden: true },
    h("div", { class: "field" }, h("label", { for: "m-registry" }, t().registryName), registry),
    h("div", { class: "field" }, h("label", { for: "m-module" }, t().moduleId), moduleId),
    h("div", { class: "field" }, h("label", { for: "m-version" }, t().moduleVersion), version),
  );
  const switchSource = () => {
    bundleFields.hidden = !sourceBundle.checked;
    registryFields.hidden = sourceBundle.checked;
  };
  sourceBundle.addEventListener("change", switchSource);
  sourceRegistry.addEventListener("change", switchSource);
  const submit = h("button", { type: "submit", id: "m-install" }, t().installCheck);
  const form = h(
    "form",
    { id: "install-form" },
    h(
      "fieldset",
      {},
      h("legend", {}, t().installTitle),
      h(
        "fieldset",
        { class: "roles" },
        h("legend", {}, t().source),
        h("div", {}, sourceBundle, h("label", { for: "src-bundle" }, t().sourceBundle)),
        h("div", {}, sourceRegistry, h("label", { for: "src-registry" }, t().sourceRegistry)),
      ),
      bundleFields,
      registryFields,
      h("div", { class: "check" }, force, h("label", { for: "m-force" }, t().allowDowngrade)),
      submit,
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    alert.textContent = "";
    const request: InstallModuleRequestJson = sourceBundle.checked
      ? { bundlePath: bundlePath.value.trim() }
      : { registry: { target: registry.value.trim(), moduleId: moduleId.value.trim(), version: version.value.trim() } };
    request.force = force.checked;
    submit.disabled = true;
    (async () => {
      const plan = await api.install({ ...request, validateOnly: true });
      const id = plan.moduleId ?? "";
      const change = plan.previousVersion
        ? t().versionChange(id, plan.previousVersion, plan.version ?? "")
        : t().newModule(id, plan.version ?? "");
      const yes = await confirmDialog(
        plan.previousVersion ? t().upgradeTitle : t().installTitle,
        [change, t().publisherAbi(plan.publisher ?? "", plan.abiVersion ?? "")],
        plan.previousVersion ? t().upgradeConfirm : t().installConfirm,
      );
      if (!yes) {
        status.textContent = t().nothingChanged;
        return;
      }
      const done = await api.install(request);
      await load();
      status.textContent = t().installed(done.moduleId ?? "", done.version ?? "");
    })()
      .catch((err: unknown) => (alert.textContent = errorText(err)))
      .finally(() => (submit.disabled = false));
  });

  main.replaceChildren(
    h("h1", {}, t().modulesTitle),
    alert,
    status,
    h(
      "table",
      { class: "articles modules" },
      h("caption", { class: "visually-hidden" }, t().modulesTitle),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, t().moduleId),
          h("th", { scope: "col" }, t().moduleVersion),
          h("th", { scope: "col" }, "ABI"),
          h("th", { scope: "col" }, t().colState),
          h("th", { scope: "col" }, t().personalData),
          h("th", { scope: "col" }, t().rollbackCol),
        ),
      ),
      body,
    ),
    form,
    h("p", { class: "note" }, t().adminReach),
  );
  reload();
}
