-- Issue 20 (labels), written by hand: the move fence (0002_move_fences.sql) on the new tables.
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `labels_fence_insert` BEFORE INSERT ON `labels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `labels_fence_update` BEFORE UPDATE ON `labels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `labels_fence_delete` BEFORE DELETE ON `labels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversation_labels_fence_insert` BEFORE INSERT ON `conversation_labels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversation_labels_fence_update` BEFORE UPDATE ON `conversation_labels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `conversation_labels_fence_delete` BEFORE DELETE ON `conversation_labels`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
