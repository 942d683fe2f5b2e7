CREATE TABLE `accounts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`address` text NOT NULL,
	`password_hash` text NOT NULL,
	`quota_mb` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_address_unique` ON `accounts` (`address`);--> statement-breakpoint
CREATE TABLE `deliveries` (
	`message_key` text NOT NULL,
	`recipient` text NOT NULL,
	`delivered_at` integer NOT NULL,
	PRIMARY KEY(`message_key`, `recipient`)
);
--> statement-breakpoint
CREATE INDEX `deliveries_delivered_at` ON `deliveries` (`delivered_at`);