-- Issue 15 (SPEC 14): moving an org to another shard. Written by hand; it must agree with
-- src/db/control.ts (orgMoves). One open move per org: finished_at stays NULL until the
-- old shard's rows are deleted (or, for a failed move, the partial copy is).
CREATE TABLE IF NOT EXISTS `org_moves` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`from_shard` text NOT NULL,
	`to_shard` text NOT NULL,
	`status` text NOT NULL,
	`tables` text NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`switched_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS `org_moves_open_uq` ON `org_moves` (`org_id`) WHERE `finished_at` IS NULL;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `org_moves_org_idx` ON `org_moves` (`org_id`,`created_at`);
