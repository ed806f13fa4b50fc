-- Issue 18 (SPEC 16), written by hand: full-text search in every shard, SQLite FTS5.
--
-- activities_fts: the text of every message that is not a suggestion (body, subject, a
-- call's transcript and summary). Its rowid is (conversation rowid << 32) | activity
-- rowid, so a match names its conversation without reading `activities`, and a thread's
-- matches are one rowid range. contacts_fts: name, email, and the phone's digits as
-- every suffix ("14155550142 4155550142 155550142 …"), so a digit prefix query finds any
-- run of digits in the number; its rowid is the contact's rowid.
--
-- Both are contentless (content=''): the text lives once, in its table; snippets are cut
-- by the API from the row (src/search/). contentless_delete=1 lets a row go by its rowid.
-- The `org` column holds the org id without hyphens (one token): every search is ANDed
-- with it, so an org's search reads only its own doclists' matches; the join to
-- conversations/contacts checks org_id again. It is not named org_id: these rows are not
-- copied by a move (test/move.test.ts lists the tables that are); the triggers below
-- write them in the target as the copy inserts, and remove them from the source as the
-- cleanup deletes.
--
-- The triggers keep the index in the same transaction as the row, whoever writes it
-- (OrgInbox's ingest and group commit, sends, late transcripts and summaries, a move's
-- copy and its cleanup). The fence triggers (0002) run BEFORE and refuse first.
CREATE VIRTUAL TABLE IF NOT EXISTS `activities_fts` USING fts5(
	`org`, `body`, `subject`, `transcript`, `summary`,
	content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='2 3'
);
--> statement-breakpoint
CREATE VIRTUAL TABLE IF NOT EXISTS `contacts_fts` USING fts5(
	`org`, `name`, `email`, `phone`,
	content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='2 3'
);
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activities_search_insert` AFTER INSERT ON `activities`
WHEN NEW.`type` <> 'suggestion'
BEGIN
	INSERT INTO `activities_fts` (`rowid`, `org`, `body`, `subject`, `transcript`, `summary`)
	SELECT (`c`.`rowid` << 32) | NEW.`rowid`, replace(NEW.`org_id`, '-', ''), NEW.`body`, NEW.`subject`, NEW.`call_transcript`, NEW.`call_summary`
	FROM `conversations` `c` WHERE `c`.`id` = NEW.`conversation_id`;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activities_search_update` AFTER UPDATE OF `body`, `subject`, `call_transcript`, `call_summary`, `type`, `conversation_id` ON `activities`
WHEN OLD.`body` IS NOT NEW.`body` OR OLD.`subject` IS NOT NEW.`subject` OR OLD.`call_transcript` IS NOT NEW.`call_transcript`
	OR OLD.`call_summary` IS NOT NEW.`call_summary` OR OLD.`type` IS NOT NEW.`type` OR OLD.`conversation_id` IS NOT NEW.`conversation_id`
BEGIN
	DELETE FROM `activities_fts` WHERE `rowid` = ((SELECT `rowid` FROM `conversations` WHERE `id` = OLD.`conversation_id`) << 32) | OLD.`rowid`;
	INSERT INTO `activities_fts` (`rowid`, `org`, `body`, `subject`, `transcript`, `summary`)
	SELECT (`c`.`rowid` << 32) | NEW.`rowid`, replace(NEW.`org_id`, '-', ''), NEW.`body`, NEW.`subject`, NEW.`call_transcript`, NEW.`call_summary`
	FROM `conversations` `c` WHERE `c`.`id` = NEW.`conversation_id` AND NEW.`type` <> 'suggestion';
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `activities_search_delete` AFTER DELETE ON `activities`
WHEN OLD.`type` <> 'suggestion'
BEGIN
	DELETE FROM `activities_fts` WHERE `rowid` = ((SELECT `rowid` FROM `conversations` WHERE `id` = OLD.`conversation_id`) << 32) | OLD.`rowid`;
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `contacts_search_insert` AFTER INSERT ON `contacts`
BEGIN
	INSERT INTO `contacts_fts` (`rowid`, `org`, `name`, `email`, `phone`) VALUES (NEW.`rowid`, replace(NEW.`org_id`, '-', ''), NEW.`name`, NEW.`email`, CASE WHEN NEW.`phone` IS NULL THEN NULL ELSE substr(replace(NEW.`phone`, '+', ''), 1) || ' ' || substr(replace(NEW.`phone`, '+', ''), 2) || ' ' || substr(replace(NEW.`phone`, '+', ''), 3) || ' ' || substr(replace(NEW.`phone`, '+', ''), 4) || ' ' || substr(replace(NEW.`phone`, '+', ''), 5) || ' ' || substr(replace(NEW.`phone`, '+', ''), 6) || ' ' || substr(replace(NEW.`phone`, '+', ''), 7) || ' ' || substr(replace(NEW.`phone`, '+', ''), 8) || ' ' || substr(replace(NEW.`phone`, '+', ''), 9) || ' ' || substr(replace(NEW.`phone`, '+', ''), 10) || ' ' || substr(replace(NEW.`phone`, '+', ''), 11) || ' ' || substr(replace(NEW.`phone`, '+', ''), 12) || ' ' || substr(replace(NEW.`phone`, '+', ''), 13) END);
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `contacts_search_update` AFTER UPDATE OF `name`, `email`, `phone`, `org_id` ON `contacts`
WHEN OLD.`name` IS NOT NEW.`name` OR OLD.`email` IS NOT NEW.`email` OR OLD.`phone` IS NOT NEW.`phone` OR OLD.`org_id` IS NOT NEW.`org_id`
BEGIN
	DELETE FROM `contacts_fts` WHERE `rowid` = OLD.`rowid`;
	INSERT INTO `contacts_fts` (`rowid`, `org`, `name`, `email`, `phone`) VALUES (NEW.`rowid`, replace(NEW.`org_id`, '-', ''), NEW.`name`, NEW.`email`, CASE WHEN NEW.`phone` IS NULL THEN NULL ELSE substr(replace(NEW.`phone`, '+', ''), 1) || ' ' || substr(replace(NEW.`phone`, '+', ''), 2) || ' ' || substr(replace(NEW.`phone`, '+', ''), 3) || ' ' || substr(replace(NEW.`phone`, '+', ''), 4) || ' ' || substr(replace(NEW.`phone`, '+', ''), 5) || ' ' || substr(replace(NEW.`phone`, '+', ''), 6) || ' ' || substr(replace(NEW.`phone`, '+', ''), 7) || ' ' || substr(replace(NEW.`phone`, '+', ''), 8) || ' ' || substr(replace(NEW.`phone`, '+', ''), 9) || ' ' || substr(replace(NEW.`phone`, '+', ''), 10) || ' ' || substr(replace(NEW.`phone`, '+', ''), 11) || ' ' || substr(replace(NEW.`phone`, '+', ''), 12) || ' ' || substr(replace(NEW.`phone`, '+', ''), 13) END);
END;
--> statement-breakpoint
CREATE TRIGGER IF NOT EXISTS `contacts_search_delete` AFTER DELETE ON `contacts`
BEGIN
	DELETE FROM `contacts_fts` WHERE `rowid` = OLD.`rowid`;
END;
--> statement-breakpoint
-- Backfill: every row already here (a shard that held orgs before this migration).
INSERT INTO `activities_fts` (`rowid`, `org`, `body`, `subject`, `transcript`, `summary`)
SELECT (`c`.`rowid` << 32) | `a`.`rowid`, replace(`a`.`org_id`, '-', ''), `a`.`body`, `a`.`subject`, `a`.`call_transcript`, `a`.`call_summary`
FROM `activities` `a` JOIN `conversations` `c` ON `c`.`id` = `a`.`conversation_id`
WHERE `a`.`type` <> 'suggestion';
--> statement-breakpoint
INSERT INTO `contacts_fts` (`rowid`, `org`, `name`, `email`, `phone`)
SELECT `k`.`rowid`, replace(`k`.`org_id`, '-', ''), `k`.`name`, `k`.`email`, CASE WHEN `k`.`phone` IS NULL THEN NULL ELSE substr(replace(`k`.`phone`, '+', ''), 1) || ' ' || substr(replace(`k`.`phone`, '+', ''), 2) || ' ' || substr(replace(`k`.`phone`, '+', ''), 3) || ' ' || substr(replace(`k`.`phone`, '+', ''), 4) || ' ' || substr(replace(`k`.`phone`, '+', ''), 5) || ' ' || substr(replace(`k`.`phone`, '+', ''), 6) || ' ' || substr(replace(`k`.`phone`, '+', ''), 7) || ' ' || substr(replace(`k`.`phone`, '+', ''), 8) || ' ' || substr(replace(`k`.`phone`, '+', ''), 9) || ' ' || substr(replace(`k`.`phone`, '+', ''), 10) || ' ' || substr(replace(`k`.`phone`, '+', ''), 11) || ' ' || substr(replace(`k`.`phone`, '+', ''), 12) || ' ' || substr(replace(`k`.`phone`, '+', ''), 13) END
FROM `contacts` `k`;
