-- Issue 17, written by hand: the move fence (0002_move_fences.sql) on the webhook outbox and its deliveries.
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `webhook_events_fence_insert` BEFORE INSERT ON `webhook_events`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `webhook_events_fence_update` BEFORE UPDATE ON `webhook_events`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `webhook_events_fence_delete` BEFORE DELETE ON `webhook_events`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `webhook_deliveries_fence_insert` BEFORE INSERT ON `webhook_deliveries`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `webhook_deliveries_fence_update` BEFORE UPDATE ON `webhook_deliveries`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = NEW.`org_id`)
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `webhook_deliveries_fence_delete` BEFORE DELETE ON `webhook_deliveries`
WHEN EXISTS (SELECT 1 FROM `org_fences` WHERE `org_id` = OLD.`org_id` AND state <> 'deleting')
BEGIN
	SELECT RAISE(ABORT, 'org_moving');
END;
