-- Issue 20 (label tallies), written by hand. label_tallies (0015) counts each label's
-- conversations by (archived, unread) so a view of one label is counted in a few rows
-- (src/views/counts.ts). SQLite triggers keep it exact, in the statement that makes each
-- change, whoever the writer is (single routes, bulk, snooze wake-ups, group-commit
-- ingest, a label's delete, a move's copy): a link inserted or deleted moves its label's
-- row of the conversation's (archived, unread); a labelled conversation whose archived or
-- unread (unread_count > 0) changes moves each of its labels' rows. A row that reaches 0
-- is deleted, so a label with no conversations has no rows. Conversations are never
-- deleted while they have links (conversation_labels references them), so no delete
-- trigger on conversations is needed. Backfilled first from the links already there,
-- then the fence (0002_move_fences.sql) on the new table, then the tally triggers, all in
-- this one migration. A move copies label_tallies after the links and clears what the
-- target's triggers counted first (src/org-inbox/move.ts).
--> statement-breakpoint
INSERT INTO `label_tallies` (`org_id`, `label_id`, `archived`, `unread`, `n`)
SELECT cl.`org_id`, cl.`label_id`, c.`archived`, c.`unread_count` > 0, count(*)
FROM `conversation_labels` cl JOIN `conversations` c ON c.`id` = cl.`conversation_id`
WHERE true
GROUP BY cl.`org_id`, cl.`label_id`, c.`archived`, c.`unread_count` > 0;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `label_tallies_fence_insert` BEFORE INSERT ON `label_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `label_tallies_fence_update` BEFORE UPDATE ON `label_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `label_tallies_fence_delete` BEFORE DELETE ON `label_tallies`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `label_tallies_link_added` AFTER INSERT ON `conversation_labels`
BEGIN
	INSERT INTO `label_tallies` (`org_id`, `label_id`, `archived`, `unread`, `n`)
	SELECT NEW.`org_id`, NEW.`label_id`, c.`archived`, c.`unread_count` > 0, 1 FROM `conversations` c WHERE c.`id` = NEW.`conversation_id`
	ON CONFLICT (`org_id`, `label_id`, `archived`, `unread`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `label_tallies_link_removed` AFTER DELETE ON `conversation_labels`
BEGIN
	UPDATE `label_tallies` SET `n` = `n` - 1
	WHERE `org_id` = OLD.`org_id` AND `label_id` = OLD.`label_id`
		AND (`archived`, `unread`) = (SELECT c.`archived`, c.`unread_count` > 0 FROM `conversations` c WHERE c.`id` = OLD.`conversation_id`);
	DELETE FROM `label_tallies` WHERE `org_id` = OLD.`org_id` AND `label_id` = OLD.`label_id` AND `n` <= 0;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `label_tallies_link_changed` AFTER UPDATE OF `org_id`, `conversation_id`, `label_id` ON `conversation_labels`
BEGIN
	UPDATE `label_tallies` SET `n` = `n` - 1
	WHERE `org_id` = OLD.`org_id` AND `label_id` = OLD.`label_id`
		AND (`archived`, `unread`) = (SELECT c.`archived`, c.`unread_count` > 0 FROM `conversations` c WHERE c.`id` = OLD.`conversation_id`);
	DELETE FROM `label_tallies` WHERE `org_id` = OLD.`org_id` AND `label_id` = OLD.`label_id` AND `n` <= 0;
	INSERT INTO `label_tallies` (`org_id`, `label_id`, `archived`, `unread`, `n`)
	SELECT NEW.`org_id`, NEW.`label_id`, c.`archived`, c.`unread_count` > 0, 1 FROM `conversations` c WHERE c.`id` = NEW.`conversation_id`
	ON CONFLICT (`org_id`, `label_id`, `archived`, `unread`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `label_tallies_conversation_state` AFTER UPDATE OF `archived`, `unread_count` ON `conversations`
WHEN OLD.`archived` IS NOT NEW.`archived` OR (OLD.`unread_count` > 0) IS NOT (NEW.`unread_count` > 0)
BEGIN
	UPDATE `label_tallies` SET `n` = `n` - 1
	WHERE `org_id` = OLD.`org_id` AND `archived` = OLD.`archived` AND `unread` = (OLD.`unread_count` > 0)
		AND `label_id` IN (SELECT `label_id` FROM `conversation_labels` WHERE `conversation_id` = OLD.`id`);
	DELETE FROM `label_tallies`
	WHERE `org_id` = OLD.`org_id` AND `archived` = OLD.`archived` AND `unread` = (OLD.`unread_count` > 0) AND `n` <= 0
		AND `label_id` IN (SELECT `label_id` FROM `conversation_labels` WHERE `conversation_id` = OLD.`id`);
	INSERT INTO `label_tallies` (`org_id`, `label_id`, `archived`, `unread`, `n`)
	SELECT NEW.`org_id`, `label_id`, NEW.`archived`, NEW.`unread_count` > 0, 1 FROM `conversation_labels` WHERE `conversation_id` = NEW.`id`
	ON CONFLICT (`org_id`, `label_id`, `archived`, `unread`) DO UPDATE SET `n` = `n` + 1;
END;
