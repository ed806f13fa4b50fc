CREATE TABLE IF NOT EXISTS `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`endpoint_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_status_code` integer,
	`last_error` text,
	`last_response` text,
	`next_attempt_at` integer,
	`lease_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `webhook_deliveries_event_uq` ON `webhook_deliveries` (`endpoint_id`,`event_id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `webhook_deliveries_list_idx` ON `webhook_deliveries` (`org_id`,`endpoint_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `webhook_deliveries_status_idx` ON `webhook_deliveries` (`org_id`,`endpoint_id`,`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `webhook_deliveries_due_idx` ON `webhook_deliveries` (`next_attempt_at`) WHERE "webhook_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `webhook_events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`conversation_id` text,
	`object_id` text NOT NULL,
	`body` text,
	`dispatched_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `webhook_events_org_idx` ON `webhook_events` (`org_id`,`seq`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `webhook_events_undispatched_idx` ON `webhook_events` (`created_at`) WHERE "webhook_events"."dispatched_at" IS NULL;--> statement-breakpoint
ALTER TABLE `webhook_endpoints` ADD `failing_since` integer;