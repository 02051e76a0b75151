// Recurrence rules as the events module supports them (RFC 5545 subset, modules/events/rrule.h):
// built from the editor's fields, said in words, and expanded in the city's local time for the
// preview of the next occurrences. The gateway expands the saved rule itself; the browser test
// checks that both agree.
import { lang } from "./i18n";

export type Freq = "" | "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY";
export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface Recurrence {
  freq: Freq;
  interval: number; // >= 1
  byDay: Weekday[]; // WEEKLY: the days; empty = the start's weekday
  monthlyBy: "monthday" | "weekday"; // MONTHLY: the start's day of the month, or e.g. its 2nd Tuesday
  end: "never" | "count" | "until";
  count: number;
  until: string; // "2027-03-31", a local date, inclusive
}

export interface Wall {
  y: number;
  m: number; // 1..12
  d: number;
  hh: number;
  mm: number;
}

export function parseWall(local: string): Wall | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!m) return null;
  return { y: +m[1]!, m: +m[2]!, d: +m[3]!, hh: +m[4]!, mm: +m[5]! };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");
export const wallToLocal = (w: Wall) => `${pad(w.y, 4)}-${pad(w.m)}-${pad(w.d)}T${pad(w.hh)}:${pad(w.mm)}`;
const dayNumber = (y: number, m: number, d: number) => Math.floor(Date.UTC(y, m - 1, d) / 86400000);
const fromDayNumber = (n: number, hh: number, mm: number): Wall => {
  const t = new Date(n * 86400000);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate(), hh, mm };
};
const weekdayIndex = (n: number) => (new Date(n * 86400000).getUTCDay() + 6) % 7; // 0 = Monday
const daysInMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();

// Which of its weekday the start is in its month: 1..4, or -1 for the last (a 5th is the last).
function ordinalInMonth(w: Wall): number {
  const n = Math.floor((w.d - 1) / 7) + 1;
  return w.d + 7 > daysInMonth(w.y, w.m) ? -1 : n;
}

export function toRule(r: Recurrence, start: Wall): string {
  if (!r.freq) return "";
  const parts = [`FREQ=${r.freq}`];
  // In the order the gateway writes a rule back (RRule::ToString), so both read the same.
  if (r.interval > 1) parts.push(`INTERVAL=${r.interval}`);
  if (r.end === "count" && r.count > 0) parts.push(`COUNT=${r.count}`);
  if (r.end === "until" && /^\d{4}-\d{2}-\d{2}$/.test(r.until)) parts.push(`UNTIL=${r.until.replace(/-/g, "")}T235959`);
  if (r.freq === "WEEKLY" && r.byDay.length) parts.push(`BYDAY=${WEEKDAYS.filter((d) => r.byDay.includes(d)).join(",")}`);
  if (r.freq === "MONTHLY" && r.monthlyBy === "weekday") {
    const wd = WEEKDAYS[weekdayIndex(dayNumber(start.y, start.m, start.d))];
    parts.push(`BYDAY=${ordinalInMonth(start)}${wd}`);
  }
  return parts.join(";");
}

// The editor's fields from a stored rule (what this editor writes; others show as text only).
export function fromRule(rule: string): Recurrence | null {
  const r: Recurrence = { freq: "", interval: 1, byDay: [], monthlyBy: "monthday", end: "never", count: 10, until: "" };
  if (!rule) return r;
  for (const part of rule.split(";")) {
    const [k, v = ""] = part.split("=");
    if (k === "FREQ" && ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"].includes(v)) r.freq = v as Freq;
    else if (k === "INTERVAL" && /^\d+$/.test(v)) r.interval = +v;
    else if (k === "COUNT" && /^\d+$/.test(v)) {
      r.end = "count";
      r.count = +v;
    } else if (k === "UNTIL" && /^\d{8}/.test(v)) {
      r.end = "until";
      r.until = `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}`;
    } else if (k === "BYDAY") {
      const days = v.split(",");
      if (days.every((d) => (WEEKDAYS as readonly string[]).includes(d))) r.byDay = days as Weekday[];
      else if (days.length === 1 && /^-?[1-5](MO|TU|WE|TH|FR|SA|SU)$/.test(days[0]!)) r.monthlyBy = "weekday";
      else return null;
    } else if (k === "WKST" && v === "MO") continue;
    else return null;
  }
  return r.freq ? r : null;
}

// The first `n` local starts (at most), from `start` on.
export function nextStarts(r: Recurrence, start: Wall, n: number): Wall[] {
  const out: Wall[] = [];
  if (!r.freq) return [start];
  const untilDay = r.end === "until" && /^\d{4}-\d{2}-\d{2}$/.test(r.until)
    ? dayNumber(+r.until.slice(0, 4), +r.until.slice(5, 7), +r.until.slice(8, 10))
    : Infinity;
  const limit = r.end === "count" ? Math.min(n, r.count) : n;
  const first = dayNumber(start.y, start.m, start.d);
  const emit = (day: number) => {
    if (day < first || day > untilDay || out.length >= limit) return day <= untilDay;
    out.push(fromDayNumber(day, start.hh, start.mm));
    return true;
  };
  const step = Math.max(1, r.interval);
  for (let period = 0; out.length < limit && period < 5000; period += step) {
    let goOn = true;
    if (r.freq === "DAILY") goOn = emit(first + period);
    else if (r.freq === "WEEKLY") {
      const weekStart = first - weekdayIndex(first) + period * 7;
      const days = r.byDay.length ? r.byDay : [WEEKDAYS[weekdayIndex(first)]!];
      for (const d of WEEKDAYS) if (days.includes(d)) goOn = emit(weekStart + WEEKDAYS.indexOf(d)) && goOn;
      if (weekStart > untilDay) goOn = false;
    } else if (r.freq === "MONTHLY") {
      const months = start.m - 1 + period;
      const y = start.y + Math.floor(months / 12);
      const m = (months % 12) + 1;
      if (r.monthlyBy === "weekday") {
        const wd = weekdayIndex(first);
        const ord = ordinalInMonth(start);
        const firstOfMonth = dayNumber(y, m, 1);
        const firstWd = firstOfMonth + ((wd - weekdayIndex(firstOfMonth) + 7) % 7);
        let day = firstWd + (ord - 1) * 7;
        if (ord === -1) {
          const last = dayNumber(y, m, daysInMonth(y, m));
          day = last - ((weekdayIndex(last) - wd + 7) % 7);
        }
        goOn = emit(day);
      } else if (start.d <= daysInMonth(y, m)) goOn = emit(dayNumber(y, m, start.d));
      else goOn = dayNumber(y, m, 1) <= untilDay;
    } else {
      const y = start.y + period;
      if (start.d <= daysInMonth(y, start.m)) goOn = emit(dayNumber(y, start.m, start.d));
      else goOn = dayNumber(y, start.m, 1) <= untilDay;
    }
    if (!goOn) break;
  }
  return out;
}

const names = {
  de: {
    days: ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    ord: { 1: "ersten", 2: "zweiten", 3: "dritten", 4: "vierten", "-1": "letzten" } as Record<string, string>,
    once: "Einmalig",
    every: { DAILY: "Täglich", WEEKLY: "Wöchentlich", MONTHLY: "Monatlich", YEARLY: "Jährlich" } as Record<string, string>,
    everyN: (n: number, f: string) =>
      `Alle ${n} ${{ DAILY: "Tage", WEEKLY: "Wochen", MONTHLY: "Monate", YEARLY: "Jahre" }[f] ?? ""}`,
    on: (days: string[]) => `am ${list(days, "und")}`,
    monthDay: (d: number) => `am ${d}.`,
    monthWeekday: (o: string, day: string) => `am ${o} ${day}`,
    yearly: (d: number, m: number) => `am ${d}.${m}.`,
    times: (n: number) => (n === 1 ? "1 Mal" : `${n} Mal`),
    until: (d: string) => `bis ${d}`,
  },
  en: {
    days: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    ord: { 1: "first", 2: "second", 3: "third", 4: "fourth", "-1": "last" } as Record<string, string>,
    once: "Once",
    every: { DAILY: "Daily", WEEKLY: "Weekly", MONTHLY: "Monthly", YEARLY: "Yearly" } as Record<string, string>,
    everyN: (n: number, f: string) =>
      `Every ${n} ${{ DAILY: "days", WEEKLY: "weeks", MONTHLY: "months", YEARLY: "years" }[f] ?? ""}`,
    on: (days: string[]) => `on ${list(days, "and")}`,
    monthDay: (d: number) => `on day ${d}`,
    monthWeekday: (o: string, day: string) => `on the ${o} ${day}`,
    yearly: (d: number, m: number) => `on ${new Date(Date.UTC(2000, m - 1, d)).toLocaleDateString("en-GB", { day: "numeric", month: "long", timeZone: "UTC" })}`,
    times: (n: number) => (n === 1 ? "once" : `${n} times`),
    until: (d: string) => `until ${d}`,
  },
};

function list(items: string[], and: string): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} ${and} ${items[items.length - 1]}`;
}

// "Wöchentlich am Montag und Mittwoch, 8 Mal" / "Every 2 weeks on Tuesday until 31/03/2027".
export function inWords(r: Recurrence, start: Wall): string {
  const w = names[lang()];
  if (!r.freq) return w.once;
  const parts = [r.interval > 1 ? w.everyN(r.interval, r.freq) : (w.every[r.freq] ?? r.freq)];
  const startDay = weekdayIndex(dayNumber(start.y, start.m, start.d));
  if (r.freq === "WEEKLY") {
    const days = r.byDay.length ? WEEKDAYS.filter((d) => r.byDay.includes(d)).map((d) => WEEKDAYS.indexOf(d)) : [startDay];
    parts.push(w.on(days.map((i) => w.days[i]!)));
  } else if (r.freq === "MONTHLY") {
    parts.push(r.monthlyBy === "weekday" ? w.monthWeekday(w.ord[String(ordinalInMonth(start))] ?? "", w.days[startDay]!) : w.monthDay(start.d));
  } else if (r.freq === "YEARLY") {
    parts.push(w.yearly(start.d, start.m));
  }
  let text = parts.join(" ");
  if (r.end === "count") text += `, ${w.times(r.count)}`;
  if (r.end === "until" && r.until) {
    const [y, m, d] = r.until.split("-");
    text += ` ${w.until(lang() === "de" ? `${d}.${m}.${y}` : `${d}/${m}/${y}`)}`;
  }
  return text;
}
