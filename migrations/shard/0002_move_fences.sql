-- Issue 15 (SPEC 14), written by hand: the fence of an org that is moving off this shard.
-- While org_fences names an org, no row of that org in this shard is inserted, updated
-- or deleted (error `org_moving`), except deletes once the fence says `deleting` (the
-- move's cleanup). A writer whose cached shard is out of date gets the error, asks the
-- org's OrgInbox where the org is now, and writes there (src/org-inbox/client.ts,
-- inOrgShard). Every table that holds an org's rows has its three triggers here;
-- test/move.test.ts fails when a shard table has none (a new table adds them in its
-- own migration).
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `contacts_fence_insert` BEFORE INSERT ON `contacts`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `contacts_fence_update` BEFORE UPDATE ON `contacts`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `contacts_fence_delete` BEFORE DELETE ON `contacts`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `channels_fence_insert` BEFORE INSERT ON `channels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `channels_fence_update` BEFORE UPDATE ON `channels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `channels_fence_delete` BEFORE DELETE ON `channels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversations_fence_insert` BEFORE INSERT ON `conversations`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversations_fence_update` BEFORE UPDATE ON `conversations`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversations_fence_delete` BEFORE DELETE ON `conversations`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversation_tallies_fence_insert` BEFORE INSERT ON `conversation_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversation_tallies_fence_update` BEFORE UPDATE ON `conversation_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversation_tallies_fence_delete` BEFORE DELETE ON `conversation_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activity_day_tallies_fence_insert` BEFORE INSERT ON `activity_day_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activity_day_tallies_fence_update` BEFORE UPDATE ON `activity_day_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activity_day_tallies_fence_delete` BEFORE DELETE ON `activity_day_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activities_fence_insert` BEFORE INSERT ON `activities`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activities_fence_update` BEFORE UPDATE ON `activities`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activities_fence_delete` BEFORE DELETE ON `activities`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `views_fence_insert` BEFORE INSERT ON `views`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `views_fence_update` BEFORE UPDATE ON `views`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `views_fence_delete` BEFORE DELETE ON `views`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `sla_configs_fence_insert` BEFORE INSERT ON `sla_configs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `sla_configs_fence_update` BEFORE UPDATE ON `sla_configs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `sla_configs_fence_delete` BEFORE DELETE ON `sla_configs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `setter_configs_fence_insert` BEFORE INSERT ON `setter_configs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `setter_configs_fence_update` BEFORE UPDATE ON `setter_configs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `setter_configs_fence_delete` BEFORE DELETE ON `setter_configs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `media_fence_insert` BEFORE INSERT ON `media`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `media_fence_update` BEFORE UPDATE ON `media`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `media_fence_delete` BEFORE DELETE ON `media`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `training_pairs_fence_insert` BEFORE INSERT ON `training_pairs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `training_pairs_fence_update` BEFORE UPDATE ON `training_pairs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `training_pairs_fence_delete` BEFORE DELETE ON `training_pairs`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `idempotency_keys_fence_insert` BEFORE INSERT ON `idempotency_keys`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `idempotency_keys_fence_update` BEFORE UPDATE ON `idempotency_keys`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `idempotency_keys_fence_delete` BEFORE DELETE ON `idempotency_keys`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `unroutable_events_fence_insert` BEFORE INSERT ON `unroutable_events`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `unroutable_events_fence_update` BEFORE UPDATE ON `unroutable_events`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `unroutable_events_fence_delete` BEFORE DELETE ON `unroutable_events`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
