import type { SlaConfig } from "../db/schema";

export type SlaSettings = Pick<SlaConfig, "enabled" | "firstResponseMinutes" | "businessHours">;
export const DEFAULT_SLA: SlaSettings = { enabled: true, firstResponseMinutes: 60, businessHours: null };

/**
 * When a reply is due for a conversation waiting since `since`; NULL when the
 * SLA is off, so `overdue` never needs the config at read time.
 */
export function slaDueAt(since: number | null, sla: SlaSettings): number | null {
  if (since == null || !sla.enabled) return null;
  // Around the clock. Business hours arrive with the SLA issue (6).
  return since + sla.firstResponseMinutes * 60_000;
}
