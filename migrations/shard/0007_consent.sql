ALTER TABLE `contacts` ADD `sms_opt_out` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `contacts` ADD `email_opt_out` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `contacts` ADD `sms_opt_out_at` integer;--> statement-breakpoint
ALTER TABLE `contacts` ADD `email_opt_out_at` integer;--> statement-breakpoint
ALTER TABLE `webhook_events` ADD `detail` text;