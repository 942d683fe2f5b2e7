DROP INDEX `outbox_peer_due`;--> statement-breakpoint
CREATE INDEX `outbox_peer_due` ON `outbox` (`peer`,`due_at`,`last_export_at`,`size`);