CREATE TABLE IF NOT EXISTS `org_fences` (
	`org_id` text PRIMARY KEY NOT NULL,
	`move_id` text NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL
);
