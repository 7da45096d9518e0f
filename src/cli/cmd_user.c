/* cmd_user.c — the glow commands for users and devices: init, invite,
 * join, name, peers, and config get/set. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/qr.h"
#include "glow/node.pb-c.h"
#include "glow/user.pb-c.h"

#define JOIN_TIMEOUT_MS 20000

static gboolean has_flag(int *argc, char **argv, const char *flag)
{
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], flag))
			continue;
		memmove(argv + i, argv + i + 1, (size_t)(*argc - i - 1) * sizeof *argv);
		(*argc)--;
		return TRUE;
	}
	return FALSE;
}

/* "--name VALUE" taken out of argv; NULL when absent. */
static const char *take_option(int *argc, char **argv, const char *flag, gboolean *bad)
{
	for (int i = 0; i < *argc; i++) {
		const char *v;
		if (strcmp(argv[i], flag))
			continue;
		if (i + 1 >= *argc) {
			*bad = TRUE;
			return NULL;
		}
		v = argv[i + 1];
		memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 2) * sizeof *argv);
		*argc -= 2;
		return v;
	}
	return NULL;
}

static int no_extra(int argc, char **argv, int max)
{
	if (argc > max)
		return fail("unexpected argument \"%s\"", argv[max]) + 1; /* EXIT_USAGE */
	return 0;
}

/* --- init ---------------------------------------------------------------------------------- */

int cmd_init(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__PeerList *peers = NULL;
	Glow__InitReply *r = NULL;
	gboolean force = has_flag(&argc, argv, "--force");
	GlowAddr self;
	guint others = 0;
	int rc;

	if ((rc = no_extra(argc, argv, 0)))
		return rc;
	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	self = local_node(cli);
	if (!call_sync(cli, &self, "glow.Node", "Peers", &empty.base, (ProtobufCMessage **)&peers, &e))
		return fail_error(cli, e);
	for (size_t i = 1; i < peers->n_peers; i++)
		others += peers->peers[i]->same_user;
	glow__peer_list__free_unpacked(peers, NULL);
	if (others && !force)
		return fail("this node's user has %u other device(s); `glow init --force` leaves them for a new user", others);
	if (!call_sync(cli, &self, "glow.Node", "CreateUser", &empty.base, (ProtobufCMessage **)&r, &e))
		return fail_error(cli, e);
	if (cli->json)
		print_message_json(&r->base);
	else
		printf("this node is the first device of a new user %s\n"
		       "add devices with `glow invite` here and `glow join CODE` there\n",
		       r->user_id);
	glow__init_reply__free_unpacked(r, NULL);
	return EXIT_OK;
}

/* --- invite ------------------------------------------------------------------------------------ */

typedef struct {
	Cli *cli;
	gboolean qr, done;
	int rc;
	guint items;
} InviteState;

static void print_invite(InviteState *st, const Glow__InviteEvent *ev)
{
	g_autoptr(GError) e = NULL;
	g_autofree char *qr = NULL;
	guint64 now = (guint64)(g_get_real_time() / 1000);
	guint mins = ev->expires_ms > now ? (guint)((ev->expires_ms - now + 59999) / 60000) : 0;

	printf("Invite code: %s\n", ev->code);
	printf("Invite link: %s\n", ev->link);
	if (st->qr) {
		const char *lang = g_getenv("LANG");
		qr = glow_qr_render(ev->link, lang && strstr(lang, "UTF-8"), &e);
		if (qr)
			printf("\n%s\n", qr);
		else
			fprintf(stderr, "glow: no QR code: %s\n", e->message);
	}
	printf("On the new device: glow join %s\n", ev->code);
	printf("Waiting for it to join (the invite lasts %u min, one device, 5 tries; Ctrl-C withdraws it)...\n", mins);
	fflush(stdout);
}

static void on_invite(const GlowResponse *r, gpointer data)
{
	InviteState *st = data;
	Glow__InviteEvent *ev;

	if (r->type == GLOW_PKT_ERROR) {
		GError e = { GLOW_ERROR, (gint)r->code, (char *)r->message };
		st->rc = fail_error(st->cli, &e);
		st->done = TRUE;
		return;
	}
	if (r->type == GLOW_PKT_END) {
		st->done = TRUE;
		return;
	}
	ev = glow__invite_event__unpack(NULL, r->len, r->payload);
	if (!ev) {
		st->rc = fail("the node's answer does not decode");
		st->done = TRUE;
		return;
	}
	if (st->cli->json) {
		print_message_json(&ev->base);
	} else if (st->items == 0) {
		print_invite(st, ev);
	} else if (ev->joined_id && *ev->joined_id) {
		printf("Joined: \"%s\" %s\n", ev->joined_name, ev->joined_id);
	}
	if (st->items++ > 0 && ev->error && *ev->error)
		st->rc = fail("%s", ev->error);
	glow__invite_event__free_unpacked(ev, NULL);
}

int cmd_invite(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__InviteRequest req = GLOW__INVITE_REQUEST__INIT;
	gboolean bad = FALSE;
	const char *ttl = take_option(&argc, argv, "--ttl", &bad);
	gboolean no_qr = has_flag(&argc, argv, "--no-qr");
	InviteState st = { .cli = cli, .qr = !no_qr && isatty(STDOUT_FILENO) };
	GlowCallOptions opt = { .stream = TRUE, .deadline_ms = cli->timeout_ms };
	const GlowInterface *iface;
	const GlowMethod *m;
	g_autofree uint8_t *buf = NULL;
	GlowAddr self;
	guint64 v = 0, call;
	gsize len;
	int rc;

	if (bad || (ttl && !g_ascii_string_to_unsigned(ttl, 10, 1, 3600, &v, NULL)))
		return fail("--ttl takes seconds, 1 to 3600") + 1;
	if (has_flag(&argc, argv, "--qr"))
		st.qr = TRUE;
	if ((rc = no_extra(argc, argv, 0)))
		return rc;
	req.ttl_s = (uint32_t)v;
	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	self = local_node(cli);
	iface = glow_iface_by_name(glow_client_registry(cli->client), "glow.Node");
	m = glow_iface_method_by_name(iface, "Invite");
	len = glow__invite_request__get_packed_size(&req);
	buf = g_malloc(len + 1);
	glow__invite_request__pack(&req, buf);
	call = glow_client_call(cli->client, &self, iface->id, m->id, buf, len, &opt, on_invite, &st, &e);
	if (!call)
		return fail_error(cli, e);
	while (!st.done)
		g_main_context_iteration(cli->ctx, TRUE);
	return st.rc;
}

/* --- join ------------------------------------------------------------------------------------------ */

int cmd_join(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__JoinRequest req = GLOW__JOIN_REQUEST__INIT;
	Glow__JoinReply *r = NULL;
	gboolean bad = FALSE;
	const char *via = take_option(&argc, argv, "--via", &bad);
	GlowAddr self;
	guint saved = cli->timeout_ms;
	int rc;

	if (bad || argc != 1)
		return fail("usage: glow join CODE|LINK [--via HOST:PORT]") + 1;
	if ((rc = no_extra(argc, argv, 1)))
		return rc;
	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	req.code = argv[0];
	req.via = (char *)(via ? via : "");
	req.timeout_ms = MAX(saved, (guint)JOIN_TIMEOUT_MS);
	/* The node looks for the inviter for up to timeout_ms: wait a little longer. */
	cli->timeout_ms = req.timeout_ms + 5000;
	if (!cli->json)
		fprintf(stderr, "glow: looking for the inviting device...\n");
	self = local_node(cli);
	gboolean ok = call_sync(cli, &self, "glow.Node", "Join", &req.base, (ProtobufCMessage **)&r, &e);
	cli->timeout_ms = saved;
	if (!ok)
		return fail_error(cli, e);
	if (cli->json)
		print_message_json(&r->base);
	else
		printf("Joined user %s\ninvited by \"%s\" %s\n", r->user_id, r->inviter_name, r->inviter_id);
	glow__join_reply__free_unpacked(r, NULL);
	return EXIT_OK;
}

/* --- name ------------------------------------------------------------------------------------------- */

int cmd_name(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	GlowAddr self;

	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	self = local_node(cli);
	if (argc == 0) {
		Glow__Empty empty = GLOW__EMPTY__INIT;
		Glow__NodeInfo *info = NULL;
		if (!call_sync(cli, &self, "glow.Node", "Info", &empty.base, (ProtobufCMessage **)&info, &e))
			return fail_error(cli, e);
		printf("%s\n", info->name);
		glow__node_info__free_unpacked(info, NULL);
		return EXIT_OK;
	}
	Glow__SetNameRequest req = GLOW__SET_NAME_REQUEST__INIT;
	Glow__Empty *out = NULL;
	req.name = argv[0];
	if (!call_sync(cli, &self, "glow.Node", "SetName", &req.base, (ProtobufCMessage **)&out, &e))
		return fail_error(cli, e);
	glow__empty__free_unpacked(out, NULL);
	if (!cli->json)
		printf("this node is now called \"%s\"\n", argv[0]);
	return EXIT_OK;
}

/* --- peers --------------------------------------------------------------------------------------------- */

static char *ago(guint64 ms)
{
	guint64 now = (guint64)(g_get_real_time() / 1000);
	guint64 d = now > ms ? now - ms : 0;
	if (!ms)
		return g_strdup("never");
	if (d < 60000)
		return g_strdup_printf("%" G_GUINT64_FORMAT "s ago", d / 1000);
	if (d < 3600000)
		return g_strdup_printf("%" G_GUINT64_FORMAT "m ago", d / 60000);
	if (d < 86400000)
		return g_strdup_printf("%" G_GUINT64_FORMAT "h ago", d / 3600000);
	return g_strdup_printf("%" G_GUINT64_FORMAT "d ago", d / 86400000);
}

int cmd_peers(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__PeerList *list = NULL;
	GlowAddr self;
	(void)argc;
	(void)argv;

	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	self = local_node(cli);
	if (!call_sync(cli, &self, "glow.Node", "Peers", &empty.base, (ProtobufCMessage **)&list, &e))
		return fail_error(cli, e);
	if (cli->json) {
		print_message_json(&list->base);
	} else {
		printf("%-16s %-15s %-8s %-7s %-10s %s\n", "NAME", "NODE", "USER", "LINKED", "SEEN", "ADDRESSES");
		for (size_t i = 0; i < list->n_peers; i++) {
			const Glow__PeerInfo *p = list->peers[i];
			g_autofree char *seen = i == 0 ? g_strdup("(this node)") : ago(p->last_seen_ms);
			/* protobuf-c's repeated strings are counted, not NULL-terminated. */
			g_autoptr(GString) addrs = g_string_new(p->n_addresses ? NULL : "-");
			for (size_t k = 0; k < p->n_addresses; k++)
				g_string_append_printf(addrs, "%s%s", k ? " " : "", p->addresses[k]);
			g_autofree char *name = g_strescape(p->name, NULL);
			printf("%-16.16s %-15.15s %-8s %-7s %-10s %s\n", name, p->node_id, p->same_user ? "yours" : "foreign",
			       i == 0 ? "-" : p->linked ? "yes" : "no", seen, addrs->str);
		}
	}
	glow__peer_list__free_unpacked(list, NULL);
	return EXIT_OK;
}

/* --- config --------------------------------------------------------------------------------------------- */

int cmd_config(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__ConfigList *list = NULL;
	GlowAddr self;
	gboolean ok;

	if (argc < 1 || (strcmp(argv[0], "get") && strcmp(argv[0], "set")) || (!strcmp(argv[0], "get") && argc > 2) ||
	    (!strcmp(argv[0], "set") && argc != 3))
		return fail("usage: glow config get [KEY] | glow config set KEY VALUE") + 1;
	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	self = local_node(cli);
	if (!strcmp(argv[0], "get")) {
		Glow__ConfigGetRequest req = GLOW__CONFIG_GET_REQUEST__INIT;
		req.key = (char *)(argc > 1 ? argv[1] : "");
		ok = call_sync(cli, &self, "glow.Node", "ConfigGet", &req.base, (ProtobufCMessage **)&list, &e);
	} else {
		Glow__ConfigSetRequest req = GLOW__CONFIG_SET_REQUEST__INIT;
		req.key = argv[1];
		req.value = argv[2];
		ok = call_sync(cli, &self, "glow.Node", "ConfigSet", &req.base, (ProtobufCMessage **)&list, &e);
	}
	if (!ok)
		return fail_error(cli, e);
	if (cli->json) {
		print_message_json(&list->base);
	} else if (argc == 2 && !strcmp(argv[0], "get") && list->n_entries == 1) {
		printf("%s\n", list->entries[0]->value);
	} else {
		for (size_t i = 0; i < list->n_entries; i++) {
			const Glow__ConfigEntry *c = list->entries[i];
			printf("%-22s = %-24s # %s%s%s\n", c->key, c->value, c->help,
			       strcmp(c->value, c->default_value) ? "; default " : "",
			       strcmp(c->value, c->default_value) ? c->default_value : "");
			if (!strcmp(argv[0], "set") && !c->live)
				printf("(saved in %s; takes effect at the next start)\n", list->path);
		}
	}
	glow__config_list__free_unpacked(list, NULL);
	return EXIT_OK;
}
