CREATE TABLE `outbox_peer_totals` (
	`peer` text PRIMARY KEY NOT NULL,
	`messages` integer NOT NULL,
	`bytes` integer NOT NULL
);
--> statement-breakpoint
-- Kept by the database itself, so every writer (the node, Haraka's plugins, the CLI) keeps it right.
CREATE TRIGGER `outbox_totals_insert` AFTER INSERT ON `outbox` BEGIN
  INSERT INTO `outbox_peer_totals` (`peer`, `messages`, `bytes`) VALUES (new.`peer`, 1, new.`size`)
    ON CONFLICT (`peer`) DO UPDATE SET `messages` = `messages` + 1, `bytes` = `bytes` + excluded.`bytes`;
END;
--> statement-breakpoint
CREATE TRIGGER `outbox_totals_delete` AFTER DELETE ON `outbox` BEGIN
  UPDATE `outbox_peer_totals` SET `messages` = `messages` - 1, `bytes` = `bytes` - old.`size` WHERE `peer` = old.`peer`;
  DELETE FROM `outbox_peer_totals` WHERE `peer` = old.`peer` AND `messages` <= 0;
END;
--> statement-breakpoint
CREATE TRIGGER `outbox_totals_update` AFTER UPDATE OF `peer`, `size` ON `outbox` BEGIN
  UPDATE `outbox_peer_totals` SET `messages` = `messages` - 1, `bytes` = `bytes` - old.`size` WHERE `peer` = old.`peer`;
  DELETE FROM `outbox_peer_totals` WHERE `peer` = old.`peer` AND `messages` <= 0;
  INSERT INTO `outbox_peer_totals` (`peer`, `messages`, `bytes`) VALUES (new.`peer`, 1, new.`size`)
    ON CONFLICT (`peer`) DO UPDATE SET `messages` = `messages` + 1, `bytes` = `bytes` + excluded.`bytes`;
END;
--> statement-breakpoint
INSERT INTO `outbox_peer_totals` (`peer`, `messages`, `bytes`) SELECT `peer`, count(*), coalesce(sum(`size`), 0) FROM `outbox` GROUP BY `peer`;
