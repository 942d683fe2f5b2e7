CREATE TABLE `radio_hours` (
	`transport_id` integer NOT NULL,
	`hour` integer NOT NULL,
	`airtime_ms` integer DEFAULT 0 NOT NULL,
	`frames_sent` integer DEFAULT 0 NOT NULL,
	`frames_resent` integer DEFAULT 0 NOT NULL,
	`frames_received` integer DEFAULT 0 NOT NULL,
	`frames_bad` integer DEFAULT 0 NOT NULL,
	`acks_missed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`transport_id`, `hour`)
);
