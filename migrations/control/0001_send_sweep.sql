ALTER TABLE `activities` ADD `sweep_requeues` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `activities` ADD `sweep_checked_at` integer;--> statement-breakpoint
CREATE INDEX `activities_sending_idx` ON `activities` (`updated_at`) WHERE "activities"."status" = 'sending';