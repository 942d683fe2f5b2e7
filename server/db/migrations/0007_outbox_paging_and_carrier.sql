DROP INDEX `outbox_peer`;--> statement-breakpoint
ALTER TABLE `outbox` ADD `last_via` text;--> statement-breakpoint
ALTER TABLE `outbox` ADD `due_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `outbox_peer_queued` ON `outbox` (`peer`,`queued_at`,`message_id`,`size`);--> statement-breakpoint
CREATE INDEX `outbox_queued` ON `outbox` (`queued_at`,`peer`,`message_id`);--> statement-breakpoint
CREATE INDEX `outbox_peer_due` ON `outbox` (`peer`,`due_at`);--> statement-breakpoint
-- Mail already in flight keeps the 10 minutes the scheduler always waited before it goes again.
UPDATE `outbox` SET `due_at` = `last_export_at` + 600000 WHERE `exports` > 0 AND `last_export_at` > 0;