/* outpost_push: tells an idling IMAP client about new mail as soon as it
   lands, instead of after Dovecot's fixed 0.5 s wait.

   Why: Dovecot's own watch (src/lib-storage/mailbox-watch.c, the same file in
   2.3.19 and 2.4.1) notices a change in a maildir's new/ or cur/ through
   inotify and then waits NOTIFY_DELAY_MSECS (500, hard-coded) before it
   calls the mailbox's notify callback, which makes IMAP IDLE sync the
   mailbox and send EXISTS. On a box where LMTP stores a message in ~10 ms,
   that wait is most of the time from send to phone. No setting changes it.

   How: for every maildir mailbox, the mailbox's notify_changes() is wrapped.
   The stock watch is always set up first and left untouched: its 0.5 s timer
   and its mailbox_idle_check_interval poll (30 s by default) still fire, so
   anything this plugin could miss is still pushed exactly as stock Dovecot
   would push it. Beside it the plugin keeps its own inotify instance on the
   same two directories and calls the notify callback as soon as it has
   drained the events that are waiting, so a burst costs one sync.

   Its own inotify instance, not io_add_notify(): Dovecot's inotify backend
   (src/lib/ioloop-notify-inotify.c) shares one inotify fd per ioloop, and a
   second watch on the same directory gets the same watch descriptor.
   Events then go to only one of the two ios (io_notify_fd_find() returns the
   first match), and removing one calls inotify_rm_watch() on the descriptor
   the other still uses. Either would silence the stock watch.

   Why calling early loses nothing: the callback only makes IMAP sync. LMTP
   renames a message into new/ while it holds dovecot-uidlist's lock, and a
   sync that finds new/ changed waits for that lock (maildir-sync.c: no
   TRYLOCK for a partial sync), so it sees the message with its UID. If the
   sync itself held the lock, LMTP renames without one, and that rename's
   inotify event is read after the sync returns: another sync follows and
   finds the file. While IDLE is still writing a sync's output,
   cmd-idle.c's idle_callback() marks sync_pending and syncs again when it is
   done. */

#include "lib.h"
#include "ioloop.h"
#include "module-context.h"
#include "mail-storage-private.h"

#include <sys/inotify.h>
#include <unistd.h>

#define OUTPOST_PUSH_CONTEXT(obj) \
	MODULE_CONTEXT_REQUIRE(obj, outpost_push_storage_module)

/* The same events the stock watch asks for. */
#define OUTPOST_PUSH_EVENTS \
	(IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE | IN_MODIFY)

struct outpost_push_mailbox {
	union mailbox_module_context module_ctx;
	struct mailbox *box;
	/* Our own inotify instance, or -1 while nobody waits for changes. */
	int fd;
	struct io *io;
};

void outpost_push_plugin_init(struct module *module);
void outpost_push_plugin_deinit(void);

const char *outpost_push_plugin_version = DOVECOT_ABI_VERSION;

static MODULE_CONTEXT_DEFINE_INIT(outpost_push_storage_module,
				  &mail_storage_module_register);

static void outpost_push_watch_stop(struct outpost_push_mailbox *pbox)
{
	io_remove(&pbox->io);
	if (pbox->fd != -1) {
		if (close(pbox->fd) < 0)
			i_error("outpost_push: close(inotify) failed: %m");
		pbox->fd = -1;
	}
}

/* Reads every event waiting. Returns FALSE when the fd failed and the
   watch had to stop (the stock watch goes on alone). */
static bool outpost_push_drain(struct outpost_push_mailbox *pbox)
{
	unsigned char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t ret = read(pbox->fd, buf, sizeof(buf));
		if (ret > 0)
			continue;
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0 && errno == EAGAIN)
			return TRUE;
		i_error("outpost_push: read(inotify) for %s failed: %s; "
			"new mail is pushed after Dovecot's usual delay",
			pbox->box->vname, ret == 0 ? "end of file" :
			strerror(errno));
		outpost_push_watch_stop(pbox);
		return FALSE;
	}
}

static void outpost_push_input(struct outpost_push_mailbox *pbox)
{
	struct mailbox *box = pbox->box;

	if (!outpost_push_drain(pbox))
		return;
	/* Last: the callback may stop the notifications or free the mailbox
	   (a client that went away), and pbox with it. */
	if (box->notify_callback != NULL)
		box->notify_callback(box, box->notify_context);
}

static void outpost_push_watch_start(struct outpost_push_mailbox *pbox)
{
	struct mailbox *box = pbox->box;
	const char *box_path = mailbox_get_path(box);
	const char *const dirs[] = { "/new", "/cur" };
	unsigned int i;

	pbox->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (pbox->fd == -1) {
		i_warning("outpost_push: inotify_init1() failed: %m; "
			  "new mail is pushed after Dovecot's usual delay");
		return;
	}
	for (i = 0; i < N_ELEMENTS(dirs); i++) {
		const char *path = t_strconcat(box_path, dirs[i], NULL);

		if (inotify_add_watch(pbox->fd, path, OUTPOST_PUSH_EVENTS) < 0) {
			i_warning("outpost_push: inotify_add_watch(%s) failed: "
				  "%m; new mail is pushed after Dovecot's "
				  "usual delay", path);
			outpost_push_watch_stop(pbox);
			return;
		}
	}
	pbox->io = io_add(pbox->fd, IO_READ, outpost_push_input, pbox);
}

static void outpost_push_notify_changes(struct mailbox *box)
{
	struct outpost_push_mailbox *pbox = OUTPOST_PUSH_CONTEXT(box);

	/* The stock watch first, always: it is the safety net. */
	pbox->module_ctx.super.notify_changes(box);

	if (box->notify_callback == NULL)
		outpost_push_watch_stop(pbox);
	else if (pbox->fd == -1)
		outpost_push_watch_start(pbox);
}

static void outpost_push_close(struct mailbox *box)
{
	struct outpost_push_mailbox *pbox = OUTPOST_PUSH_CONTEXT(box);

	/* Closing removes the stock watch without a notify_changes() call
	   (index_storage_mailbox_close), so ours goes here too. */
	outpost_push_watch_stop(pbox);
	pbox->module_ctx.super.close(box);
}

static void outpost_push_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	struct outpost_push_mailbox *pbox;

	/* Outpost stores mail in Maildir; other formats keep stock behaviour. */
	if (strcmp(box->storage->name, "maildir") != 0)
		return;

	pbox = p_new(box->pool, struct outpost_push_mailbox, 1);
	pbox->box = box;
	pbox->fd = -1;
	pbox->module_ctx.super = *v;
	box->vlast = &pbox->module_ctx.super;
	v->notify_changes = outpost_push_notify_changes;
	v->close = outpost_push_close;
	MODULE_CONTEXT_SET(box, outpost_push_storage_module, pbox);
}

static struct mail_storage_hooks outpost_push_mail_storage_hooks = {
	.mailbox_allocated = outpost_push_mailbox_allocated
};

void outpost_push_plugin_init(struct module *module)
{
	mail_storage_hooks_add(module, &outpost_push_mail_storage_hooks);
}

void outpost_push_plugin_deinit(void)
{
	mail_storage_hooks_remove(&outpost_push_mail_storage_hooks);
}
