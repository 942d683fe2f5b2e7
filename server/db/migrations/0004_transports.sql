CREATE TABLE `transport_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`transport_id` integer NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`ok` integer,
	`error` text,
	`bytes_out` integer DEFAULT 0 NOT NULL,
	`bytes_in` integer DEFAULT 0 NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `transport_runs_transport` ON `transport_runs` (`transport_id`,`started_at`);--> statement-breakpoint
CREATE TABLE `transports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`peer` text NOT NULL,
	`kind` text NOT NULL,
	`config` text NOT NULL,
	`schedule` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL
);
