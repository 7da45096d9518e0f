/* The C client API against real glowd processes: three nodes on loopback,
 * linked, calling each other; then one is killed and one frozen, and the
 * survivors must notice (the frozen one through keepalives alone). */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "glow/client.h"
#include "rpc/iface.h"
#include "rpc/rpc.h"
#include "wire/nodeid.h"
#include "glow/diag.pb-c.h"
#include "glow/node.pb-c.h"

typedef struct {
	GSubprocess *proc;
	char *dir;
	char *listen;
	GlowClient *client;
	GlowNodeId id;
} Node;

static GMainContext *ctx;
static char user_key[80]; /* every node of the test is a device of one user */

/* As `glow join` leaves it: the user key in the node's state dir. */
static void give_user(const char *dir)
{
	g_autofree char *path = g_build_filename(dir, "user.key", NULL);
	g_autoptr(GError) err = NULL;
	if (!user_key[0]) {
		guint8 seed[32];
		GString *s = g_string_new("GLOW-USER-V1\n");
		for (guint i = 0; i < sizeof seed; i++)
			seed[i] = (guint8)g_random_int_range(0, 256);
		for (guint i = 0; i < sizeof seed; i++)
			g_string_append_printf(s, "%02x", seed[i]);
		g_string_append_c(s, '\n');
		g_strlcpy(user_key, s->str, sizeof user_key);
		g_string_free(s, TRUE);
	}
	g_file_set_contents_full(path, user_key, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err);
	g_assert_no_error(err);
}

static void node_start(Node *n, const char *name)
{
	const char *glowd = g_getenv("GLOWD");
	g_autoptr(GError) err = NULL;
	g_autoptr(GDataInputStream) out = NULL;
	g_autofree char *sock = NULL;
	char *line;

	g_assert_nonnull(glowd);
	n->dir = g_dir_make_tmp("glow-client-XXXXXX", &err);
	g_assert_no_error(err);
	give_user(n->dir);
	n->proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &err, glowd, "-d", n->dir, "-l", "127.0.0.1:0", "-n",
	                           name, "--no-discovery", NULL);
	g_assert_no_error(err);
	out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(n->proc));
	/* The banner names the bound port and ends with the control socket. */
	while ((line = g_data_input_stream_read_line(out, NULL, NULL, &err))) {
		const char *p = strstr(line, "listening on ");
		if (p)
			n->listen = g_strndup(p + 13, strcspn(p + 13, " "));
		gboolean last = strstr(line, "control socket") != NULL;
		g_free(line);
		if (last)
			break;
	}
	g_assert_nonnull(n->listen);
	sock = g_build_filename(n->dir, "glowd.sock", NULL);
	n->client = glow_client_connect(ctx, sock, 5000, &err);
	g_assert_no_error(err);
	n->id = *glow_client_node(n->client);
}

/* SIGTERM, and a clean exit is required (in the ASan build a leak or an
 * error report makes the exit status non-zero). killed: it was SIGKILLed. */
static void node_stop(Node *n, gboolean killed)
{
	g_autofree char *key = g_build_filename(n->dir, "identity.key", NULL);
	glow_client_free(n->client);
	if (n->proc) {
		g_subprocess_send_signal(n->proc, SIGCONT);
		g_subprocess_send_signal(n->proc, SIGTERM);
		g_subprocess_wait(n->proc, NULL, NULL);
		if (!killed) {
			g_assert_true(g_subprocess_get_if_exited(n->proc));
			g_assert_cmpint(g_subprocess_get_exit_status(n->proc), ==, 0);
		}
		g_object_unref(n->proc);
	}
	g_unlink(key);
	g_rmdir(n->dir);
	g_free(n->dir);
	g_free(n->listen);
}

static GlowAddr at(const GlowNodeId *id, guint64 res)
{
	GlowAddr a = { *id, res };
	return a;
}

/* Peers linked, not links: devices of one user also link by themselves,
 * and two dials crossing may leave two links to one peer for a while. */
static guint count_links(Node *n)
{
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__LinkList *links = NULL;
	g_autoptr(GError) err = NULL;
	g_autoptr(GHashTable) peers = g_hash_table_new(g_str_hash, g_str_equal);
	GlowAddr self = at(&n->id, 0);
	guint k;
	g_assert_true(glow_client_call_sync(n->client, &self, "glow.Node", "ListLinks", &empty.base, 5000,
	                                    (ProtobufCMessage **)&links, &err));
	for (size_t i = 0; i < links->n_links; i++)
		g_hash_table_add(peers, links->links[i]->peer_id);
	k = g_hash_table_size(peers);
	glow__link_list__free_unpacked(links, NULL);
	return k;
}

static void link_nodes(Node *from, Node *to)
{
	Glow__ConnectRequest req = GLOW__CONNECT_REQUEST__INIT;
	Glow__LinkInfo *info = NULL;
	g_autoptr(GError) err = NULL;
	char id[GLOW_NODE_ID_TEXT_BUF];
	GlowAddr self = at(&from->id, 0);
	glow_node_id_to_text(&to->id, id);
	req.address = to->listen;
	req.node_id = id;
	g_assert_true(glow_client_call_sync(from->client, &self, "glow.Node", "Connect", &req.base, 10000,
	                                    (ProtobufCMessage **)&info, &err));
	g_assert_no_error(err);
	g_assert_cmpstr(info->peer_id, ==, id);
	glow__link_info__free_unpacked(info, NULL);
}

typedef struct {
	guint items;
	gboolean done;
	guint8 type;
	guint32 code;
} Stream;

static void on_stream(const GlowResponse *r, gpointer data)
{
	Stream *s = data;
	if (r->type == GLOW_PKT_ITEM) {
		s->items++;
		return;
	}
	s->type = r->type;
	s->code = r->code;
	s->done = TRUE;
}

static void test_three_nodes(void)
{
	Node a = { 0 }, b = { 0 }, c = { 0 };
	g_autoptr(GError) err = NULL;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__NodeInfo *info = NULL;
	gint64 t0;

	node_start(&a, "a");
	node_start(&b, "b");
	node_start(&c, "c");
	link_nodes(&a, &b);
	link_nodes(&a, &c);
	link_nodes(&b, &c);
	g_assert_cmpuint(count_links(&a), ==, 2);

	/* a's client calls b's node through a. */
	GlowAddr b0 = at(&b.id, 0);
	g_assert_true(glow_client_call_sync(a.client, &b0, "glow.Node", "Info", &empty.base, 5000,
	                                    (ProtobufCMessage **)&info, &err));
	g_assert_cmpstr(info->name, ==, "b");
	g_assert_cmpuint(info->links, >=, 2);
	glow__node_info__free_unpacked(info, NULL);

	/* A stream from c, through a, with flow control. */
	{
		const GlowInterface *diag = glow_iface_by_name(glow_client_registry(a.client), "glow.Diag");
		Glow__SourceRequest req = GLOW__SOURCE_REQUEST__INIT;
		uint8_t buf[32];
		Stream s = { 0 };
		GlowAddr c3 = at(&c.id, 3);
		GlowCallOptions opt = { .stream = TRUE, .window = 8 };
		req.count = 500;
		req.size = 4096;
		size_t len = glow__source_request__pack(&req, buf);
		g_assert_cmpuint(glow_client_call(a.client, &c3, diag->id, glow_iface_method_by_name(diag, "Source")->id,
		                                  buf, len, &opt, on_stream, &s, &err),
		                 !=, 0);
		while (!s.done)
			g_main_context_iteration(ctx, TRUE);
		g_assert_cmpint(s.type, ==, GLOW_PKT_END);
		g_assert_cmpuint(s.items, ==, 500);
	}

	/* An endless slow stream from c; then c is killed: its sockets close,
	 * a and b notice at once, and the stream ends with UNREACHABLE. */
	const GlowInterface *diag = glow_iface_by_name(glow_client_registry(a.client), "glow.Diag");
	Glow__SourceRequest slow = GLOW__SOURCE_REQUEST__INIT;
	uint8_t sbuf[32];
	Stream endless = { 0 };
	GlowAddr c3 = at(&c.id, 3);
	GlowCallOptions sopt = { .stream = TRUE };
	slow.count = 1000000;
	slow.size = 8;
	slow.interval_ms = 20;
	size_t slen = glow__source_request__pack(&slow, sbuf);
	g_assert_cmpuint(glow_client_call(a.client, &c3, diag->id, glow_iface_method_by_name(diag, "Source")->id, sbuf,
	                                  slen, &sopt, on_stream, &endless, &err),
	                 !=, 0);
	while (endless.items < 3)
		g_main_context_iteration(ctx, TRUE);
	kill(atoi(g_subprocess_get_identifier(c.proc)), SIGKILL);
	t0 = g_get_monotonic_time();
	while (!endless.done && g_get_monotonic_time() - t0 < 3 * G_USEC_PER_SEC)
		g_main_context_iteration(ctx, FALSE);
	g_assert_true(endless.done);
	g_assert_cmpint(endless.type, ==, GLOW_PKT_ERROR);
	g_assert_cmpuint(endless.code, ==, GLOW_ERR_UNREACHABLE);
	t0 = g_get_monotonic_time();
	while (count_links(&a) != 1 && g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC)
		g_usleep(50000);
	g_assert_cmpuint(count_links(&a), ==, 1);
	{
		GlowAddr c0 = at(&c.id, 0);
		g_assert_false(glow_client_call_sync(a.client, &c0, "glow.Node", "Info", &empty.base, 5000,
		                                     (ProtobufCMessage **)&info, &err));
		g_assert_error(err, GLOW_ERROR, GLOW_ERR_UNREACHABLE);
		g_clear_error(&err);
	}

	/* Freeze b: no FIN, no RST; only keepalives can tell. Default: dead within 10 s. */
	pid_t bpid = atoi(g_subprocess_get_identifier(b.proc));
	kill(bpid, SIGSTOP);
	t0 = g_get_monotonic_time();
	while (count_links(&a) != 0 && g_get_monotonic_time() - t0 < 12 * G_USEC_PER_SEC)
		g_usleep(100000);
	gint64 took = g_get_monotonic_time() - t0;
	g_test_message("frozen peer detected after %.1f s", (double)took / G_USEC_PER_SEC);
	g_assert_cmpuint(count_links(&a), ==, 0);
	g_assert_cmpint(took, <, 10 * G_USEC_PER_SEC);
	kill(bpid, SIGCONT);

	node_stop(&a, FALSE);
	node_stop(&b, FALSE);
	node_stop(&c, TRUE);
}

/* The node a client talks through dies: every call of the client ends,
 * including a stream from another node. */
static void test_daemon_dies(void)
{
	Node x = { 0 }, y = { 0 };
	g_autoptr(GError) err = NULL;
	const GlowInterface *diag;
	Glow__SourceRequest slow = GLOW__SOURCE_REQUEST__INIT;
	uint8_t buf[32];
	Stream st = { 0 };
	GlowCallOptions opt = { .stream = TRUE };
	gint64 t0;

	node_start(&x, "x");
	node_start(&y, "y");
	link_nodes(&x, &y);
	diag = glow_iface_by_name(glow_client_registry(x.client), "glow.Diag");
	slow.count = 1000000;
	slow.size = 8;
	slow.interval_ms = 20;
	size_t len = glow__source_request__pack(&slow, buf);
	GlowAddr y3 = at(&y.id, 3);
	g_assert_cmpuint(glow_client_call(x.client, &y3, diag->id, glow_iface_method_by_name(diag, "Source")->id, buf,
	                                  len, &opt, on_stream, &st, &err),
	                 !=, 0);
	while (st.items < 2)
		g_main_context_iteration(ctx, TRUE);
	kill(atoi(g_subprocess_get_identifier(x.proc)), SIGKILL);
	t0 = g_get_monotonic_time();
	while (!st.done && g_get_monotonic_time() - t0 < 3 * G_USEC_PER_SEC)
		g_main_context_iteration(ctx, FALSE);
	g_assert_true(st.done);
	g_assert_cmpint(st.type, ==, GLOW_PKT_ERROR);
	g_assert_cmpuint(st.code, ==, GLOW_ERR_UNAVAILABLE);
	g_assert_false(glow_client_connected(x.client));
	node_stop(&x, TRUE);
	node_stop(&y, FALSE);
}

static void test_no_daemon(void)
{
	g_autoptr(GError) err = NULL;
	GlowClient *c = glow_client_connect(ctx, "/nonexistent/glowd.sock", 1000, &err);
	g_assert_null(c);
	g_assert_error(err, GLOW_ERROR, GLOW_ERR_DAEMON);
	g_assert_nonnull(strstr(err->message, "not running"));
}

int main(int argc, char **argv)
{
	int rc;
	g_test_init(&argc, &argv, NULL);
	ctx = g_main_context_new();
	g_test_add_func("/client/no-daemon", test_no_daemon);
	g_test_add_func("/client/three-nodes", test_three_nodes);
	g_test_add_func("/client/daemon-dies", test_daemon_dies);
	rc = g_test_run();
	g_main_context_unref(ctx);
	return rc;
}
