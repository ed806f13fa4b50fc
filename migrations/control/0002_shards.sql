-- Issue 15 (SPEC 14): the control database. Written by hand (control migrations are,
-- from this one on); it must agree with src/db/control.ts.
-- Each org names its shard. An org that existed before shards lives where it always did:
-- SHARD_0 (on such a deployment, SHARD_0 is bound to this very database).
ALTER TABLE `orgs` ADD `shard` text DEFAULT 'SHARD_0' NOT NULL;
--> statement-breakpoint
CREATE INDEX `orgs_shard_idx` ON `orgs` (`shard`);
--> statement-breakpoint
-- Every channel address, unique across orgs: provider webhooks find the org here, and a
-- new channel claims its address here before its row is written into the org's shard.
CREATE TABLE `channel_routes` (
	`kind` text NOT NULL,
	`address` text NOT NULL,
	`org_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`kind`, `address`),
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `channel_routes_org_idx` ON `channel_routes` (`org_id`,`channel_id`);
--> statement-breakpoint
-- The channels a single-database deployment already has (none on a new one).
INSERT INTO `channel_routes` (`kind`, `address`, `org_id`, `channel_id`, `created_at`)
	SELECT `kind`, `address`, `org_id`, `id`, `created_at` FROM `channels`;
-- No table is dropped: on a deployment that had one database, the tables 0000_init made
-- here hold the orgs' data and are SHARD_0's tables now. On a new deployment they stay empty.
