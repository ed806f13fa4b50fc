CREATE TABLE IF NOT EXISTS `activities` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`type` text NOT NULL,
	`direction` text,
	`status` text NOT NULL,
	`body` text,
	`subject` text,
	`html` text,
	`from_addr` text,
	`to_addr` text,
	`channel_id` text,
	`media_ids` text DEFAULT '[]' NOT NULL,
	`author_id` text,
	`provider` text,
	`provider_message_id` text,
	`error_code` text,
	`error_message` text,
	`send_attempts` integer DEFAULT 0 NOT NULL,
	`sweep_requeues` integer DEFAULT 0 NOT NULL,
	`sweep_checked_at` integer,
	`call_duration_seconds` integer,
	`call_recording_url` text,
	`call_recording_media_id` text,
	`call_transcript` text,
	`call_summary` text,
	`call_summary_status` text,
	`suggestion_channel` text,
	`sent_message_id` text,
	`resolved_by` text,
	`resolved_at` integer,
	`occurred_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `activities_dedup_uq` ON `activities` (`org_id`,`provider`,`provider_message_id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `activities_thread_idx` ON `activities` (`conversation_id`,`occurred_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `activities_direction_idx` ON `activities` (`conversation_id`,`direction`,`occurred_at`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `activities_org_status_idx` ON `activities` (`org_id`,`type`,`status`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `activities_provider_idx` ON `activities` (`provider`,`provider_message_id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `activities_sending_idx` ON `activities` (`updated_at`) WHERE "activities"."status" = 'sending';--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `activity_day_tallies` (
	`org_id` text NOT NULL,
	`archived` integer DEFAULT false NOT NULL,
	`unread` integer DEFAULT false NOT NULL,
	`day` integer NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `archived`, `unread`)
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `channels` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`kind` text NOT NULL,
	`address` text NOT NULL,
	`provider` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `channels_address_uq` ON `channels` (`kind`,`address`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `channels_org_kind_idx` ON `channels` (`org_id`,`kind`,`created_at`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `contacts` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text,
	`phone` text,
	`email` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `contacts_org_phone_uq` ON `contacts` (`org_id`,`phone`);--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `contacts_org_email_uq` ON `contacts` (`org_id`,`email`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `contacts_org_id_idx` ON `contacts` (`org_id`,`id`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `conversation_tallies` (
	`org_id` text NOT NULL,
	`archived` integer DEFAULT false NOT NULL,
	`starred` integer DEFAULT false NOT NULL,
	`unread` integer DEFAULT false NOT NULL,
	`assignee` text DEFAULT '' NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`org_id`, `archived`, `starred`, `unread`, `assignee`)
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`assigned_to` text,
	`starred` integer DEFAULT false NOT NULL,
	`archived` integer DEFAULT false NOT NULL,
	`unread_count` integer DEFAULT 0 NOT NULL,
	`last_read_at` integer,
	`last_activity_id` text,
	`last_activity_type` text,
	`last_activity_direction` text,
	`last_activity_preview` text,
	`last_activity_at` integer,
	`sort_at` integer NOT NULL,
	`awaiting_reply_since` integer,
	`sla_due_at` integer,
	`pending_suggestion_id` text,
	`last_sms_channel_id` text,
	`last_email_channel_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `conversations_org_contact_uq` ON `conversations` (`org_id`,`contact_id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_list_idx` ON `conversations` (`org_id`,`archived`,`sort_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_all_idx` ON `conversations` (`org_id`,`sort_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_waiting_sort_idx` ON `conversations` (`org_id`,`archived`,`sort_at`,`id`) WHERE "conversations"."sla_due_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_assignee_idx` ON `conversations` (`org_id`,`assigned_to`,`archived`,`sort_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_starred_idx` ON `conversations` (`org_id`,`archived`,`sort_at`,`id`) WHERE "conversations"."starred" = 1;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_unread_idx` ON `conversations` (`org_id`,`archived`,`sort_at`,`id`) WHERE "conversations"."unread_count" > 0;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_sla_idx` ON `conversations` (`org_id`,`archived`,`sla_due_at`) WHERE "conversations"."sla_due_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_sla_assignee_idx` ON `conversations` (`org_id`,`assigned_to`,`archived`,`sla_due_at`) WHERE "conversations"."sla_due_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_waiting_idx` ON `conversations` (`org_id`,`awaiting_reply_since`) WHERE "conversations"."awaiting_reply_since" IS NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `conversations_contact_idx` ON `conversations` (`contact_id`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `idempotency_keys` (
	`org_id` text NOT NULL,
	`key` text NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`body_hash` text NOT NULL,
	`state` text NOT NULL,
	`response_status` integer,
	`response_body` text,
	`response_content_type` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `idempotency_expiry_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `media` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`filename` text,
	`sha256` text,
	`status` text NOT NULL,
	`source_url` text,
	`created_by` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `media_org_idx` ON `media` (`org_id`,`created_at`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `setter_configs` (
	`org_id` text PRIMARY KEY NOT NULL,
	`mode` text NOT NULL,
	`instructions` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `sla_configs` (
	`org_id` text PRIMARY KEY NOT NULL,
	`enabled` integer NOT NULL,
	`first_response_minutes` integer NOT NULL,
	`business_hours` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `training_pairs` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`suggestion_id` text NOT NULL,
	`sent_message_id` text NOT NULL,
	`draft` text NOT NULL,
	`sent` text NOT NULL,
	`label` text NOT NULL,
	`similarity` real NOT NULL,
	`context` text NOT NULL,
	`sent_by` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `training_pairs_org_idx` ON `training_pairs` (`org_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `training_pairs_label_idx` ON `training_pairs` (`org_id`,`label`,`created_at`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `training_pairs_suggestion_uq` ON `training_pairs` (`suggestion_id`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `views` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`key` text,
	`name` text NOT NULL,
	`position` integer NOT NULL,
	`filters` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `views_owner_idx` ON `views` (`org_id`,`user_id`,`position`);--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `views_owner_key_uq` ON `views` (`org_id`,`user_id`,`key`);--> statement-breakpoint
CREATE TABLE IF NOT EXISTS `unroutable_events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text,
	`provider` text NOT NULL,
	`reason` text NOT NULL,
	`waiting_for` text,
	`payload` text NOT NULL,
	`received_at` integer NOT NULL,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `unroutable_org_idx` ON `unroutable_events` (`org_id`,`received_at`,`id`);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `unroutable_waiting_idx` ON `unroutable_events` (`provider`,`waiting_for`) WHERE "unroutable_events"."waiting_for" IS NOT NULL;