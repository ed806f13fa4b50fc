// Types of scripts/export-map.mjs, for the tests (TypeScript).
export type ExportContactKey = { phone: string; name?: string } | { email: string; name?: string };
export type ExportedContact = { id?: string; name: string | null; phone: string | null; email: string | null };
export type ExportedMessage = Record<string, unknown> & { id: string; type: string; occurred_at: string };
export type ExportLine = Record<string, unknown> & { contact: ExportedContact; messages: ExportedMessage[] };
export type IngestItem = Record<string, unknown> & { contact: ExportContactKey; provider: string; provider_message_id: string };

export function isExportLine(value: unknown): value is ExportLine;
export function exportContact(contact: ExportedContact): ExportContactKey | null;
export function exportMessageToActivity(contact: ExportContactKey, message: ExportedMessage): IngestItem;
export function neverSent(message: ExportedMessage): boolean;
export function exportLineToActivities(line: ExportLine): { activities: IngestItem[]; media_dropped: number; unsent_skipped: number; error: string | null };
