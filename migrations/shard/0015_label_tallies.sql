CREATE TABLE IF NOT EXISTS `label_tallies` (
	`org_id` text NOT NULL,
	`label_id` text NOT NULL,
	`archived` integer DEFAULT false NOT NULL,
	`unread` integer DEFAULT false NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`org_id`, `label_id`, `archived`, `unread`)
);
