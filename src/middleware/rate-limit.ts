import { createMiddleware } from "hono/factory";
import { settings } from "../config/settings";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { log } from "../lib/log";
import type { Spend } from "../org-inbox/api-window";
import { orgInbox } from "../org-inbox/client";

// Per-org API limit (SPEC 11: RATE_LIMIT_PER_MINUTE): a fixed one-minute window whose
// count lives in the org's OrgInbox, so it holds across every isolate and location
// serving the org. Asking the object on every request would put a round trip on every
// read; instead each isolate may hold up to `batch` admissions the object has not
// confirmed yet, reports them in the background every half batch, and leaves the last
// `batch` requests before the limit to the object, one by one. One isolate is exact;
// n isolates at once can overshoot by at most n × batch (a twentieth of the limit each).
// Webhooks never pass here (they are not bearer routes), so providers are never limited.

const WINDOW_MS = 60_000;
/** Unreported requests are sent to the ledger at least this often. */
const REPORT_MS = 2_000;

/** The org's authoritative count for a window (OrgInbox.spendApi). */
export interface ApiLedger {
  spendApi(windowStart: number, spent: number, want: number, limit: number): Promise<Spend>;
}

type Local = {
  start: number;
  /** admitted here, not reported yet */
  pending: number;
  /** admitted here, in a report on its way */
  inflight: number;
  /** the org's total as the ledger last said */
  known: number;
  reportedAt: number;
  blocked: boolean;
};

export const batchFor = (limit: number) => Math.max(1, Math.floor(limit / 20));

/** One isolate's view of its orgs' windows (module state: one per isolate). */
export class OrgBudget {
  private readonly windows = new Map<string, Local>();

  /**
   * Counts one request; answers null when admitted, else the seconds to wait.
   * `background` keeps a report alive after the response (waitUntil).
   */
  async take(orgId: string, limit: number, ledger: () => ApiLedger, background: (p: Promise<unknown>) => void, now = Date.now()): Promise<number | null> {
    const start = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const wait = Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000));
    const w = this.window(orgId, start, now);
    if (w.blocked) return wait;
    const batch = batchFor(limit);
    const unconfirmed = w.pending + w.inflight;
    if (unconfirmed < batch && w.known + unconfirmed + batch < limit) {
      w.pending += 1;
      if (w.inflight === 0 && (w.pending >= Math.ceil(batch / 2) || now - w.reportedAt >= REPORT_MS)) {
        w.reportedAt = now;
        background(this.report(orgId, w, limit, ledger));
      }
      return null;
    }
    // Near the limit, or a batch unconfirmed: the ledger decides, carrying what this isolate has not reported.
    // While it asks, the carried requests and this one count as unconfirmed here.
    const spent = w.pending;
    w.pending = 0;
    w.inflight += spent + 1;
    w.reportedAt = now;
    let answer: Spend;
    try {
      answer = await ledger().spendApi(start, spent, 1, limit);
    } catch (e) {
      // The limit guards the API; it does not take it down with the object. Admit, keep the count.
      w.pending += spent + 1;
      log("warn", "rate_limit_ledger_failed", { org_id: orgId, error: String(e) });
      return null;
    } finally {
      w.inflight -= spent + 1;
    }
    w.known = Math.max(w.known, answer.total);
    if (answer.granted) return null;
    w.blocked = true;
    return wait;
  }

  private window(orgId: string, start: number, now: number): Local {
    let w = this.windows.get(orgId);
    if (!w || w.start !== start) {
      if (this.windows.size > 50_000) for (const [k, v] of this.windows) if (v.start !== start) this.windows.delete(k);
      w = { start, pending: 0, inflight: 0, known: 0, reportedAt: now, blocked: false };
      this.windows.set(orgId, w);
    }
    return w;
  }

  private async report(orgId: string, w: Local, limit: number, ledger: () => ApiLedger) {
    const spent = w.pending;
    w.pending = 0;
    w.inflight += spent;
    try {
      const answer = await ledger().spendApi(w.start, spent, 0, limit);
      w.known = Math.max(w.known, answer.total);
      if (answer.total >= limit) w.blocked = true;
    } catch (e) {
      w.pending += spent;
      log("warn", "rate_limit_ledger_failed", { org_id: orgId, error: String(e) });
    } finally {
      w.inflight -= spent;
    }
  }
}

const budget = new OrgBudget();

/** After orgScope: the org's budget of API calls a minute (0 turns the limit off). */
export const orgRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const limit = settings(c.env).rateLimitPerMinute;
  if (limit > 0) {
    const background = (p: Promise<unknown>) => {
      try {
        c.executionCtx.waitUntil(p);
      } catch {
        // no execution context (app.request in a unit test): the promise runs anyway
      }
    };
    const orgId = c.get("orgId");
    const wait = await budget.take(orgId, limit, () => orgInbox(c.env, orgId), background);
    if (wait !== null) {
      throw new ApiError("rate_limited", `This org made ${limit} API calls this minute; retry in ${wait} s.`, undefined, { "retry-after": String(wait) });
    }
  }
  await next();
});
