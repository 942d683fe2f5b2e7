CREATE TABLE `acks_owed` (
	`peer` text NOT NULL,
	`message_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`peer`, `message_id`)
);
--> statement-breakpoint
CREATE TABLE `imported_bundles` (
	`bundle_id` text PRIMARY KEY NOT NULL,
	`origin` text NOT NULL,
	`kind` text NOT NULL,
	`messages` integer NOT NULL,
	`imported_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `outbox` (
	`message_id` text NOT NULL,
	`peer` text NOT NULL,
	`sender` text NOT NULL,
	`recipients` text NOT NULL,
	`size` integer NOT NULL,
	`hops` integer NOT NULL,
	`queued_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`exports` integer DEFAULT 0 NOT NULL,
	`last_export_at` integer,
	`last_bundle_id` text,
	PRIMARY KEY(`message_id`, `peer`)
);
--> statement-breakpoint
CREATE INDEX `outbox_peer` ON `outbox` (`peer`);--> statement-breakpoint
CREATE TABLE `seen_messages` (
	`message_id` text PRIMARY KEY NOT NULL,
	`from_peer` text NOT NULL,
	`seen_at` integer NOT NULL
);
