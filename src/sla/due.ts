import type { SlaConfig } from "../db/schema";
import { addBusinessMinutes } from "./business-time";

export type SlaSettings = Pick<SlaConfig, "enabled" | "firstResponseMinutes" | "businessHours">;
export const DEFAULT_SLA: SlaSettings = { enabled: true, firstResponseMinutes: 60, businessHours: null };

/**
 * When a reply is due for a conversation waiting since `since`: the target counted
 * around the clock, or in business hours when the org has them. NULL when the SLA
 * is off, so `overdue` never needs the config at read time.
 */
export function slaDueAt(since: number | null, sla: SlaSettings): number | null {
  if (since == null || !sla.enabled) return null;
  if (sla.businessHours) return addBusinessMinutes(since, sla.firstResponseMinutes, sla.businessHours);
  return since + sla.firstResponseMinutes * 60_000;
}
