ALTER TABLE `activities` ADD `send_at` integer;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `activities_scheduled_idx` ON `activities` (`org_id`,`send_at`) WHERE "activities"."status" = 'scheduled';--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `activities_updated_idx` ON `activities` (`org_id`,`updated_at`,`id`);