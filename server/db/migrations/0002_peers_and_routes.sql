CREATE TABLE `peers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`sign_key` text NOT NULL,
	`age_recipient` text NOT NULL,
	`domains` text NOT NULL,
	`reach` text NOT NULL,
	`added_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `peers_name_unique` ON `peers` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `peers_sign_key_unique` ON `peers` (`sign_key`);--> statement-breakpoint
CREATE TABLE `routes` (
	`domain` text PRIMARY KEY NOT NULL,
	`peer` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`peer`) REFERENCES `peers`(`name`) ON UPDATE no action ON DELETE cascade
);
