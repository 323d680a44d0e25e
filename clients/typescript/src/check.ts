/**
 * The frontend's use of the API, written against the types generated from openapi/openapi.json.
 *
 * It is only compiled (`tsc --noEmit`, strict), never run: a renamed field, a removed endpoint, a
 * changed enum or a body the server would now refuse makes this file fail to compile, so the
 * contract cannot drift away from the dashboards unnoticed. Keep it to what the frontend reads.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type CaseRead = Schemas["CaseRead"];

/** The dashboards read JSON bodies: application/json and application/problem+json (errors). */
type Json = `application/${string}json`;

/** Type-level assertion: compiles only when `T` is exactly `true`. */
function assertType<T extends true>(_ok?: T): void {}
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export const api = createClient<paths, Json>({ baseUrl: "https://ovc.example.org" });

/** Every error the API returns is RFC 9457 problem+json; the UI shows title, detail and field errors. */
export function describeProblem(problem: Problem): string {
  const fields = (problem.errors ?? []).map((e) => `${e.loc.join(".")}: ${e.msg} (${e.type})`);
  return [`${problem.status} ${problem.title}`, problem.detail ?? "", ...fields].join("\n");
}

/** A caseload table: cursor pagination over /cases (items + next_cursor). */
export async function caseload(): Promise<CaseRead[]> {
  const rows: CaseRead[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await api.GET("/api/v1/cases", {
      params: { query: { status: "implementation", risk_level: "high", limit: 50, cursor } },
    });
    if (error) throw new Error(describeProblem(error));
    rows.push(...data.items);
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return rows;
}

/** One case's header card. */
export async function caseHeader(caseId: string): Promise<string> {
  const { data, error, response } = await api.GET("/api/v1/cases/{case_id}", {
    params: { path: { case_id: caseId } },
  });
  if (error) return response.status === 404 ? "not found" : describeProblem(error);
  const status: Schemas["CaseStatus"] = data.status;
  const child: Schemas["ChildSummary"] = data.child;
  return [
    data.id,
    status,
    data.risk_level,
    data.opened_on,
    data.closed_on ?? "open",
    data.concerns.join(", "),
    child.given_name_latin ?? child.given_name_khmer ?? "",
    child.sex,
  ].join(" | ");
}

/** Case statistics chart (JSON; the CSV/XLSX variants are downloads, not typed here). */
export async function caseStats(): Promise<number> {
  const { data, error } = await api.GET("/api/v1/stats/cases", {
    params: { query: { group_by: "province,quarter", from: "2026-01-01", to: "2026-12-31" } },
  });
  if (error) throw new Error(describeProblem(error));
  const row: Schemas["CaseStatsRow"] | undefined = data.rows[0];
  void row?.province;
  void data.group_by;
  return data.totals.cases + data.totals.children;
}

/** Alternative-care dashboard (issue 13): residential care and moves to family care. */
export async function careStats(): Promise<number | null> {
  const { data, error } = await api.GET("/api/v1/stats/care", {
    params: { query: { group_by: "quarter", as_of: "2026-11-30" } },
  });
  if (error) throw new Error(describeProblem(error));
  const period: Schemas["Period"] = data.group_by;
  void period;
  void data.suppressed;
  void data.rows.map((r) => r.stable_12_months);
  return data.children_in_residential_care ?? data.totals.moves_to_family_care;
}

/** Referring a child to another organisation, with consent, idempotently. */
export async function refer(caseId: string, toOrganisation: string): Promise<Schemas["ReferralStatus"]> {
  const body: Schemas["ReferralCreate"] = {
    case_id: caseId,
    receiving_organisation_id: toOrganisation,
    services_requested: ["school_enrolment_support"],
    reason: "School enrolment support",
    urgency: "urgent",
    consent: { given_by: "Mother", relation: "mother", given_on: "2026-11-29", method: "written" },
  };
  const { data, error } = await api.POST("/api/v1/referrals", {
    params: { header: { "Idempotency-Key": "3f1c0b8e-referral-1" } },
    body,
  });
  if (error) throw new Error(describeProblem(error));
  void [data.id, data.direction, data.receiving_organisation_id, data.consent_method, data.urgency];
  const again = await api.GET("/api/v1/referrals/{referral_id}", { params: { path: { referral_id: data.id } } });
  return again.data?.status ?? data.status;
}

/** Webhook subscription (issue 14): the secret is shown once, in the create response only. */
export async function subscribe(): Promise<string> {
  const body: Schemas["WebhookCreate"] = {
    url: "https://partner.example.org/hooks/ovc",
    event_types: ["case.created", "referral.received", "referral.withdrawn"],
    description: "Partner case system",
  };
  const { data, error } = await api.POST("/api/v1/webhooks", { body });
  if (error) throw new Error(describeProblem(error));
  const events: Schemas["WebhookEventType"][] = data.event_types;
  void [data.id, data.active, data.disabled_reason, data.version, events];
  return data.secret;
}

/** Spreadsheet import (issue 14): upload for a dry run, then poll the job. */
export async function importSpreadsheet(file: Blob): Promise<Schemas["ImportStatus"]> {
  const { data, error } = await api.POST("/api/v1/imports", {
    params: { query: { mode: "validate" } },
    body: { file: "" },
    bodySerializer: () => {
      const form = new FormData();
      form.append("file", file, "caseload.xlsx");
      return form;
    },
  });
  if (error) throw new Error(describeProblem(error));
  const job = await api.GET("/api/v1/imports/{import_id}", { params: { path: { import_id: data.id } } });
  if (job.error) throw new Error(describeProblem(job.error));
  const { processed_rows, total_rows, error_count, errors, created } = job.data;
  void [processed_rows / Math.max(total_rows, 1), error_count, errors, created.child_ids];
  return job.data.status;
}

/** A child's care history and reintegration plan (issue 13). */
export async function careHistory(childId: string, planId: string): Promise<string[]> {
  const placements = await api.GET("/api/v1/children/{child_id}/placements", {
    params: { path: { child_id: childId } },
  });
  if (placements.error) throw new Error(describeProblem(placements.error));
  const lines = placements.data.map((p: Schemas["PlacementRead"]) => {
    const kind: Schemas["PlacementType"] = p.placement_type;
    return `${p.started_on}..${p.ended_on ?? ""} ${kind} ${p.facility_id ?? ""} ${p.gatekeeping ? "gatekept" : ""}`;
  });
  const plan = await api.GET("/api/v1/reintegration-plans/{plan_id}", { params: { path: { plan_id: planId } } });
  if (plan.error) throw new Error(describeProblem(plan.error));
  const p = plan.data;
  const planStatus: Schemas["PlanStatus"] = p.status;
  lines.push(
    `${planStatus} -> ${p.target_placement_type} with ${p.caregiver}, move ${p.moved_on ?? p.planned_move_on ?? "?"}`,
    `readiness child ${p.readiness?.child ? "assessed" : "-"}, re-separations ${p.re_separations}`,
    `${p.preparation_steps.length} steps, ${p.support_package.length} services`,
  );
  return lines;
}

/** Code lists with Khmer labels for dropdowns, cached by ETag. */
export async function labels(language: "en" | "km"): Promise<Map<string, Map<string, string>>> {
  const all = await api.GET("/api/v1/vocabularies", { params: { header: { "accept-language": language } } });
  if (all.error) throw new Error(describeProblem(all.error));
  const lang: Schemas["Vocabularies"]["language"] = all.data.language;
  void lang;
  const out = new Map<string, Map<string, string>>();
  for (const vocabulary of all.data.vocabularies) {
    out.set(vocabulary.name, new Map(vocabulary.items.map((i) => [i.code, i.label] as const)));
  }
  const one = await api.GET("/api/v1/vocabularies/{name}", {
    params: { path: { name: "placement_type" }, header: { "accept-language": language } },
  });
  if (one.data) out.set(one.data.name, new Map(one.data.items.map((i) => [i.code, i.label] as const)));
  return out;
}

/** Keeping a local copy in sync with the change feed (issue 14): follow next_cursor until has_more is false. */
export async function sync(cursor: string | undefined, keep: Map<string, number>): Promise<string> {
  let next = cursor;
  for (;;) {
    const { data, error } = await api.GET("/api/v1/changes", {
      params: { query: { cursor: next, types: ["case", "referral"], limit: 200 } },
    });
    if (error) throw new Error(describeProblem(error));
    for (const entry of data.items) {
      const change: Schemas["Change"] = entry.change;
      if (change === "removed") keep.delete(entry.resource_id);
      else keep.set(entry.resource_id, entry.position);
      void [entry.event_id, entry.type, entry.resource_type, entry.organisation_id];
    }
    next = data.next_cursor;
    if (!data.has_more) return next;
  }
}

// The enums the dashboards switch on: adding a value is fine for them, removing or renaming one is not.
assertType<Equal<Exclude<"intake" | "assessment" | "case_plan" | "implementation" | "review" | "closed", Schemas["CaseStatus"]>, never>>();
assertType<Equal<Exclude<"created" | "updated" | "removed", Schemas["Change"]>, never>>();
assertType<Equal<Exclude<"pending" | "accepted" | "declined" | "withdrawn" | "completed", Schemas["ReferralStatus"]>, never>>();
assertType<Equal<Exclude<"planning" | "monitoring" | "completed", Schemas["PlanStatus"]>, never>>();
assertType<Equal<Exclude<"queued" | "running" | "validated" | "committed" | "failed", Schemas["ImportStatus"]>, never>>();
// Problem fields the UI relies on stay required where they are required.
assertType<Equal<Pick<Problem, "type" | "title" | "status">, { type: string; title: string; status: number }>>();
// The list endpoints' page shape.
assertType<Equal<keyof Schemas["Page_CaseRead_"], "items" | "next_cursor">>();
