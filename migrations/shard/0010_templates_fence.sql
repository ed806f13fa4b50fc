-- Issue 20 (templates), written by hand: the move fence (0002_move_fences.sql) on the new table.
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `templates_fence_insert` BEFORE INSERT ON `templates`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `templates_fence_update` BEFORE UPDATE ON `templates`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `templates_fence_delete` BEFORE DELETE ON `templates`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
