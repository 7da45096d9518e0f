/* glow — the command-line tool: talks to the local glowd over its control
 * socket and, through it, to any node it is linked with. Every interface
 * is callable with `glow call` (JSON <-> protobuf via the descriptors). */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "glow/client.h"
#include "glow/common.pb-c.h"
#include "glow/node.pb-c.h"
#include "cli/cli.h"
#include "rpc/pbjson.h"

int fail(const char *fmt, ...)
{
	va_list ap;
	fputs("glow: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILED;
}

int fail_error(Cli *cli, GError *e)
{
	if (cli->json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "error");
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "code");
		json_builder_add_string_value(b, e->domain == GLOW_ERROR && e->code == GLOW_ERR_DAEMON
		                                         ? "DAEMON_NOT_RUNNING"
		                                         : glow_error_symbol((uint32_t)e->code));
		json_builder_set_member_name(b, "message");
		json_builder_add_string_value(b, e->message);
		json_builder_end_object(b);
		json_builder_end_object(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		g_autofree char *text = json_to_string(root, FALSE);
		printf("%s\n", text);
	}
	fprintf(stderr, "glow: %s\n", e->message);
	return e->domain == GLOW_ERROR && e->code == GLOW_ERR_DAEMON ? EXIT_NO_DAEMON : EXIT_FAILED;
}

static void print_json(JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_root(gen, node);
	json_generator_set_pretty(gen, TRUE);
	g_autofree char *text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
}

void print_message_json(const ProtobufCMessage *m)
{
	g_autoptr(JsonNode) node = glow_pbjson_from_message(m, GLOW_PBJSON_EMIT_DEFAULTS);
	print_json(node);
}

gboolean ensure_client(Cli *cli, GError **error)
{
	g_autofree char *path = NULL;
	if (cli->client)
		return TRUE;
	if (cli->socket)
		path = g_strdup(cli->socket);
	else if (cli->state_dir)
		path = g_build_filename(cli->state_dir, GLOW_CONTROL_SOCKET_NAME, NULL);
	else
		path = glow_client_default_socket();
	cli->client = glow_client_connect(cli->ctx, path, cli->timeout_ms, error);
	return cli->client != NULL;
}

gboolean call_sync(Cli *cli, const GlowAddr *dst, const char *iface, const char *method,
                          const ProtobufCMessage *in, ProtobufCMessage **out, GError **error)
{
	return ensure_client(cli, error) &&
	       glow_client_call_sync(cli->client, dst, iface, method, in, cli->timeout_ms, out, error);
}

GlowAddr local_node(Cli *cli)
{
	GlowAddr a = { *glow_client_node(cli->client), GLOW_RESOURCE_NODE };
	return a;
}

/* --- resolving what the user typed ------------------------------------------------------ */

/* A full node ID, or a prefix of >= 8 characters unique among this node and
 * every node it has a route to. */
gboolean resolve_node(Cli *cli, const char *text, GlowNodeId *out, GError **error)
{
	char clean[GLOW_NODE_ID_RAW_CHARS + 8];
	Glow__RouteList *routes = NULL;
	GlowAddr self;
	GPtrArray *cands;
	int len;
	gboolean ok = FALSE;

	if (!ensure_client(cli, error))
		return FALSE;
	GlowIdError e = glow_node_id_from_text(text, out);
	if (e == GLOW_ID_OK)
		return TRUE;
	len = glow_node_id_clean(text, clean, sizeof clean);
	if (len < 0 || e == GLOW_ID_ERR_CHECK || len >= GLOW_NODE_ID_RAW_CHARS) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "\"%s\" is not a valid node ID: %s", text,
		            glow_id_strerror(e));
		return FALSE;
	}
	if (len < GLOW_NODE_ID_MIN_PREFIX) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST,
		            "\"%s\" is too short: give a node ID or at least %d of its first characters", text,
		            GLOW_NODE_ID_MIN_PREFIX);
		return FALSE;
	}
	self = local_node(cli);
	Glow__RoutesRequest rreq = GLOW__ROUTES_REQUEST__INIT;
	if (!call_sync(cli, &self, "glow.Node", "Routes", &rreq.base, (ProtobufCMessage **)&routes, error))
		return FALSE;
	cands = g_ptr_array_new_with_free_func(g_free);
	if (glow_node_id_has_prefix(&self.node, clean))
		g_ptr_array_add(cands, g_memdup2(&self.node, sizeof self.node));
	for (size_t i = 0; i < routes->n_routes; i++) {
		GlowNodeId id;
		gboolean dup = FALSE;
		if (glow_node_id_from_text(routes->routes[i]->node_id, &id) != GLOW_ID_OK || !glow_node_id_has_prefix(&id, clean))
			continue;
		for (guint j = 0; j < cands->len; j++)
			dup |= glow_node_id_equal(cands->pdata[j], &id);
		if (!dup)
			g_ptr_array_add(cands, g_memdup2(&id, sizeof id));
	}
	if (cands->len == 1) {
		*out = *(GlowNodeId *)cands->pdata[0];
		ok = TRUE;
	} else if (!cands->len) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_NOT_FOUND, "no reachable node starts with %s (see glow routes)", text);
	} else {
		GString *s = g_string_new(NULL);
		for (guint j = 0; j < cands->len; j++) {
			char t[GLOW_NODE_ID_TEXT_BUF];
			glow_node_id_to_text(cands->pdata[j], t);
			g_string_append_printf(s, "\n  %s", t);
		}
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "%s is ambiguous; it matches:%s", text, s->str);
		g_string_free(s, TRUE);
	}
	g_ptr_array_free(cands, TRUE);
	glow__route_list__free_unpacked(routes, NULL);
	return ok;
}

static gboolean parse_u64(const char *s, guint64 *out)
{
	char *end = NULL;
	if (!*s || !g_ascii_isdigit(*s))
		return FALSE;
	errno = 0;
	*out = g_ascii_strtoull(s, &end, 10);
	return !*end && errno == 0;
}

/* glow://NODE/N, NODE/N, N (a resource of the local node), NODE (the node itself). */
static gboolean resolve_resource(Cli *cli, const char *text, GlowAddr *out, GError **error)
{
	const char *s = g_str_has_prefix(text, "glow://") ? text + 7 : text;
	const char *slash = strrchr(s, '/');
	g_autofree char *node = NULL;
	const char *num = NULL;

	if (!ensure_client(cli, error))
		return FALSE;
	if (slash) {
		node = g_strndup(s, (gsize)(slash - s));
		num = slash + 1;
	} else if (parse_u64(s, &out->resource) && strlen(s) < GLOW_NODE_ID_MIN_PREFIX) {
		out->node = *glow_client_node(cli->client);
		return TRUE;
	} else {
		node = g_strdup(s);
	}
	out->resource = 0;
	if (num && *num && !parse_u64(num, &out->resource)) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST,
		            "\"%s\" is not a resource: expected glow://NODE/ID, NODE/ID or a number", text);
		return FALSE;
	}
	if (!*node) {
		out->node = *glow_client_node(cli->client);
		return TRUE;
	}
	return resolve_node(cli, node, &out->node, error);
}

/* --- commands ----------------------------------------------------------------------------- */

static char *format_duration(guint64 ms)
{
	if (ms < 60000)
		return g_strdup_printf("%.1fs", (double)ms / 1000);
	if (ms < 3600000)
		return g_strdup_printf("%" G_GUINT64_FORMAT "m%02" G_GUINT64_FORMAT "s", ms / 60000, ms / 1000 % 60);
	return g_strdup_printf("%" G_GUINT64_FORMAT "h%02" G_GUINT64_FORMAT "m", ms / 3600000, ms / 60000 % 60);
}

static char *format_bytes(guint64 b)
{
	return g_format_size_full(b, G_FORMAT_SIZE_IEC_UNITS);
}

static int cmd_status(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__NodeInfo *info = NULL;
	GlowAddr dst;
	(void)argc;
	(void)argv;

	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	dst = local_node(cli);
	if (!call_sync(cli, &dst, "glow.Node", "Info", &empty.base, (ProtobufCMessage **)&info, &e))
		return fail_error(cli, e);
	if (cli->json) {
		print_message_json(&info->base);
	} else {
		g_autofree char *up = format_duration(info->uptime_ms);
		printf("node      %s\nname      %s\nversion   %s (pid %u)\nuptime    %s\n", info->node_id, info->name,
		       info->version, info->pid, up);
		for (size_t i = 0; i < info->n_listen; i++)
			printf("listen    %s\n", info->listen[i]);
		if (!info->n_listen)
			printf("listen    (none)\n");
		printf("links     %u\nroutes    %u reachable node%s\nresources %u\nstate     %s\n", info->links, info->routes,
		       info->routes == 1 ? "" : "s", info->resources, info->state_dir);
		g_autofree char *rb = format_bytes(info->relayed_bytes);
		printf("relay     %s: %" G_GUINT64_FORMAT " packets (%s) relayed, %" G_GUINT64_FORMAT
		       " refused or dropped\n",
		       info->relay, info->relayed_packets, rb, info->relay_refused);
		printf("e2e       %u session%s, %" G_GUINT64_FORMAT " packets refused\n", info->e2e_sessions,
		       info->e2e_sessions == 1 ? "" : "s", info->e2e_rejected);
		printf("user      %s%s\n", info->user_id, info->can_invite ? "" : " (holds no user key: cannot invite)");
		printf("peers     %u known (glow peers); LAN discovery %s\n", info->peers_known,
		       info->discovery_interfaces ? "on" : "off");
	}
	glow__node_info__free_unpacked(info, NULL);
	return EXIT_OK;
}

static int cmd_id(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	char id[GLOW_NODE_ID_TEXT_BUF];
	(void)argc;
	(void)argv;
	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	glow_node_id_to_text(glow_client_node(cli->client), id);
	if (cli->json)
		printf("{\"node_id\": \"%s\"}\n", id);
	else
		printf("%s\n", id);
	return EXIT_OK;
}

static int cmd_links(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__LinkList *links = NULL;
	GlowAddr dst;
	(void)argc;
	(void)argv;

	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	dst = local_node(cli);
	if (!call_sync(cli, &dst, "glow.Node", "ListLinks", &empty.base, (ProtobufCMessage **)&links, &e))
		return fail_error(cli, e);
	if (cli->json) {
		print_message_json(&links->base);
	} else if (!links->n_links) {
		printf("no links (link to another node with: glow connect HOST:PORT)\n");
	} else {
		printf("%-4s %-63s %-12s %-22s %9s %9s %9s %8s\n", "LINK", "PEER", "NAME", "REMOTE", "RTT", "IN", "OUT",
		       "AGE");
		for (size_t i = 0; i < links->n_links; i++) {
			const Glow__LinkInfo *l = links->links[i];
			g_autofree char *in = format_bytes(l->bytes_in), *out = format_bytes(l->bytes_out);
			g_autofree char *age = format_duration(l->established_ms);
			g_autofree char *rtt = l->rtt_us ? g_strdup_printf("%.2fms", (double)l->rtt_us / 1000) : g_strdup("-");
			g_autofree char *name = g_strescape(l->peer_name, NULL);
			printf("%-4" G_GUINT64_FORMAT " %-63s %-12.12s %-22s %9s %9s %9s %8s\n", l->link_id, l->peer_id, name,
			       l->remote_address, rtt, in, out, age);
		}
	}
	glow__link_list__free_unpacked(links, NULL);
	return EXIT_OK;
}

static int cmd_connect(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__ConnectRequest req = GLOW__CONNECT_REQUEST__INIT;
	Glow__LinkInfo *info = NULL;
	GlowAddr dst;

	req.address = argv[0];
	req.node_id = argc > 1 ? argv[1] : "";
	req.timeout_ms = cli->timeout_ms > 1000 ? cli->timeout_ms - 500 : cli->timeout_ms;
	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	dst = local_node(cli);
	if (!call_sync(cli, &dst, "glow.Node", "Connect", &req.base, (ProtobufCMessage **)&info, &e))
		return fail_error(cli, e);
	if (cli->json)
		print_message_json(&info->base);
	else
		printf("linked to %s \"%s\" at %s (link %" G_GUINT64_FORMAT ")\n", info->peer_id, info->peer_name,
		       info->remote_address, info->link_id);
	glow__link_info__free_unpacked(info, NULL);
	return EXIT_OK;
}

static int cmd_disconnect(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__DisconnectRequest req = GLOW__DISCONNECT_REQUEST__INIT;
	Glow__Empty *out = NULL;
	GlowAddr dst;
	(void)argc;

	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	if (!parse_u64(argv[0], &req.link_id) || strlen(argv[0]) >= GLOW_NODE_ID_MIN_PREFIX)
		req.node_id = argv[0];
	dst = local_node(cli);
	if (!call_sync(cli, &dst, "glow.Node", "Disconnect", &req.base, (ProtobufCMessage **)&out, &e))
		return fail_error(cli, e);
	glow__empty__free_unpacked(out, NULL);
	if (!cli->json)
		printf("disconnected %s\n", argv[0]);
	else
		printf("{}\n");
	return EXIT_OK;
}

static int cmd_resources(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__ResourceList *list = NULL;
	GlowAddr dst = { 0 };

	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	dst = local_node(cli);
	if (argc > 0 && !resolve_node(cli, argv[0], &dst.node, &e))
		return fail_error(cli, e);
	if (!call_sync(cli, &dst, "glow.Node", "ListResources", &empty.base, (ProtobufCMessage **)&list, &e))
		return fail_error(cli, e);
	if (cli->json) {
		print_message_json(&list->base);
	} else {
		printf("%-6s %-14s %-10s %s\n", "ID", "INTERFACE", "NAME", "ADDRESS");
		for (size_t i = 0; i < list->n_resources; i++) {
			const Glow__ResourceInfo *r = list->resources[i];
			g_autofree char *name = g_strescape(r->name, NULL);
			printf("%-6" G_GUINT64_FORMAT " %-14s %-10s %s\n", r->id, r->interface, name, r->address);
		}
	}
	glow__resource_list__free_unpacked(list, NULL);
	return EXIT_OK;
}

static gboolean describe(Cli *cli, const GlowAddr *dst, Glow__InterfaceInfo **out, GError **error)
{
	Glow__Empty empty = GLOW__EMPTY__INIT;
	return call_sync(cli, dst, "glow.Resource", "Describe", &empty.base, (ProtobufCMessage **)out, error);
}

static void print_fields(const ProtobufCMessageDescriptor *d)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		static const char *const types[] = { "int32",  "sint32", "sfixed32", "int64", "sint64", "sfixed64",
		                                     "uint32", "fixed32", "uint64",  "fixed64", "float", "double",
		                                     "bool",   "enum",   "string",  "bytes", "message" };
		const char *t = f->type <= PROTOBUF_C_TYPE_MESSAGE ? types[f->type] : "?";
		if (f->type == PROTOBUF_C_TYPE_MESSAGE)
			t = ((const ProtobufCMessageDescriptor *)f->descriptor)->name;
		else if (f->type == PROTOBUF_C_TYPE_ENUM)
			t = ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
		printf("        %s%s %s = %u\n", f->label == PROTOBUF_C_LABEL_REPEATED ? "repeated " : "", t, f->name, f->id);
	}
}

static int cmd_describe(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__InterfaceInfo *info = NULL;
	GlowAddr dst;
	(void)argc;

	if (!resolve_resource(cli, argv[0], &dst, &e) || !describe(cli, &dst, &info, &e))
		return fail_error(cli, e);
	if (cli->json) {
		print_message_json(&info->base);
	} else {
		const GlowInterface *known = glow_iface_by_name(glow_client_registry(cli->client), info->name);
		printf("%s\n  interface %s (id 0x%08x)\n  owner     %s\n  methods:\n", info->address, info->name,
		       info->interface_id, info->owner);
		for (size_t i = 0; i < info->n_methods; i++) {
			const Glow__MethodInfo *m = info->methods[i];
			printf("    %s(%s) returns (%s%s)\n", m->name, m->input_type, m->server_streaming ? "stream " : "",
			       m->output_type);
			const GlowMethod *km = known ? glow_iface_method_by_name(known, m->name) : NULL;
			if (km && km->input->n_fields)
				print_fields(km->input);
		}
		printf("  every resource also answers glow.Resource.Describe\n");
	}
	glow__interface_info__free_unpacked(info, NULL);
	return EXIT_OK;
}

typedef struct {
	gboolean done;
	int rc;
	guint items;
	const GlowMethod *m;
	Cli *cli;
} CallState;

static void print_payload(CallState *st, const GlowResponse *r)
{
	g_autoptr(GError) e = NULL;
	g_autoptr(JsonNode) node = glow_pbjson_from_protobuf(st->m->output, r->payload, r->len,
	                                                     GLOW_PBJSON_EMIT_DEFAULTS, &e);
	if (!node) {
		fail("the answer does not decode as %s: %s", st->m->output->name, e->message);
		st->rc = EXIT_FAILED;
		return;
	}
	if (st->m->server_streaming) {
		/* One JSON document per line, so a stream pipes into line tools. */
		g_autofree char *text = json_to_string(node, FALSE);
		printf("%s\n", text);
		fflush(stdout);
	} else {
		print_json(node);
	}
}

static void on_call(const GlowResponse *r, gpointer data)
{
	CallState *st = data;
	switch (r->type) {
	case GLOW_PKT_ITEM:
		st->items++;
		print_payload(st, r);
		return;
	case GLOW_PKT_REPLY:
		print_payload(st, r);
		break;
	case GLOW_PKT_END:
		if (!st->cli->json)
			fprintf(stderr, "glow: stream ended after %u items\n", st->items);
		break;
	case GLOW_PKT_ERROR: {
		GError e = { GLOW_ERROR, (gint)r->code, (char *)r->message };
		st->rc = fail_error(st->cli, &e);
		break;
	}
	}
	st->done = TRUE;
}

static int cmd_call(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__InterfaceInfo *info = NULL;
	GlowAddr dst;
	const GlowInterface *iface;
	const GlowMethod *m;
	g_autoptr(GBytes) in = NULL;
	CallState st = { 0 };
	GlowCallOptions opt = { 0 };
	int rc = EXIT_FAILED;

	if (!resolve_resource(cli, argv[0], &dst, &e) || !describe(cli, &dst, &info, &e))
		return fail_error(cli, e);
	iface = glow_iface_by_name(glow_client_registry(cli->client), info->name);
	if (!iface) {
		fail("%s implements %s, an interface this glow does not know (upgrade glow)", info->address, info->name);
		goto out;
	}
	m = glow_iface_method_by_name(iface, argv[1]);
	if (!m) {
		GString *names = g_string_new(NULL);
		for (guint i = 0; i < iface->n_methods; i++)
			g_string_append_printf(names, "%s%s", i ? ", " : "", iface->methods[i].name);
		fail("%s has no method \"%s\"; it has: %s", iface->name, argv[1], names->str);
		g_string_free(names, TRUE);
		rc = EXIT_USAGE;
		goto out;
	}
	in = glow_pbjson_text_to_protobuf(m->input, argc > 2 ? argv[2] : "{}", &e);
	if (!in) {
		fail("bad argument for %s.%s (a JSON %s): %s", iface->name, m->name, m->input->name, e->message);
		rc = EXIT_USAGE;
		goto out;
	}
	st.m = m;
	st.cli = cli;
	opt.deadline_ms = cli->timeout_ms;
	opt.stream = m->server_streaming;
	if (!glow_client_call(cli->client, &dst, iface->id, m->id, g_bytes_get_data(in, NULL), g_bytes_get_size(in),
	                      &opt, on_call, &st, &e)) {
		rc = fail_error(cli, e);
		goto out;
	}
	while (!st.done)
		g_main_context_iteration(cli->ctx, TRUE);
	rc = st.rc;
out:
	glow__interface_info__free_unpacked(info, NULL);
	return rc;
}

static int cmd_stop(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__Empty *out = NULL;
	GlowAddr dst;
	(void)argc;
	(void)argv;

	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	dst = local_node(cli);
	if (!call_sync(cli, &dst, "glow.Node", "Shutdown", &empty.base, (ProtobufCMessage **)&out, &e))
		return fail_error(cli, e);
	glow__empty__free_unpacked(out, NULL);
	printf(cli->json ? "{}\n" : "glowd is stopping\n");
	return EXIT_OK;
}

/* --- routing: routes, ping, trace ---------------------------------------------------------- */

static char *short_id(const char *id)
{
	return g_strndup(id, 15); /* two groups: enough to tell nodes apart in a table */
}

/* glow routes [-n NODE] [DESTINATION] */
static int cmd_routes(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	Glow__RoutesRequest req = GLOW__ROUTES_REQUEST__INIT;
	Glow__RouteList *list = NULL;
	GlowAddr dst;
	const char *at = NULL;

	if (argc >= 2 && !strcmp(argv[0], "-n")) {
		at = argv[1];
		argc -= 2;
		argv += 2;
	}
	if (argc > 1) {
		fail("usage: glow routes [-n NODE] [DESTINATION]");
		return EXIT_USAGE;
	}
	if (!ensure_client(cli, &e))
		return fail_error(cli, e);
	dst = local_node(cli);
	if (at && !resolve_node(cli, at, &dst.node, &e))
		return fail_error(cli, e);
	/* The destination is resolved by the node asked: it may know nodes we do not. */
	req.destination = argc ? argv[0] : "";
	if (!call_sync(cli, &dst, "glow.Node", "Routes", &req.base, (ProtobufCMessage **)&list, &e))
		return fail_error(cli, e);
	if (cli->json) {
		print_message_json(&list->base);
	} else if (!list->n_routes) {
		printf("no routes: %s reaches no other node (link to one with: glow connect HOST:PORT)\n",
		       at ? at : "this node");
	} else {
		printf("%-63s %-15s %-12s %4s %6s %6s %s\n", "DESTINATION", "VIA", "VIA NAME", "LINK", "METRIC", "SEQNO",
		       "");
		for (size_t i = 0; i < list->n_routes; i++) {
			const Glow__RouteInfo *r = list->routes[i];
			g_autofree char *via = r->direct ? g_strdup("direct") : short_id(r->next_hop_id);
			g_autofree char *name = g_strescape(r->next_hop_name, NULL);
			g_autofree char *metric = r->metric >= 65535 ? g_strdup("-") : g_strdup_printf("%u", r->metric);
			printf("%-63s %-15s %-12.12s %4" G_GUINT64_FORMAT " %6s %6u %s\n", r->node_id, via, name, r->link_id,
			       metric, r->seqno, r->e2e_session ? "e2e" : "");
		}
	}
	glow__route_list__free_unpacked(list, NULL);
	return EXIT_OK;
}

typedef struct {
	guint count, interval_ms, wait_ms, size;
} PingOptions;

/* Options after the command name: -c COUNT, -i MS, -W MS, -s BYTES. */
static gboolean parse_ping_options(int *argc, char ***argv, PingOptions *o, gboolean allow_count)
{
	while (*argc > 1 && (*argv)[0][0] == '-') {
		guint64 v;
		const char *f = (*argv)[0];
		if (f[1] == '-') {
			fail("unknown option %s (options of glow itself, like --json, go before the command)", f);
			return FALSE;
		}
		if (!parse_u64((*argv)[1], &v) || v > 1000000 ||
		    (strcmp(f, "-c") && strcmp(f, "-i") && strcmp(f, "-W") && strcmp(f, "-s")) ||
		    (!allow_count && !strcmp(f, "-c"))) {
			fail("bad option %s %s", f, (*argv)[1]);
			return FALSE;
		}
		if (!strcmp(f, "-c"))
			o->count = (guint)v;
		else if (!strcmp(f, "-i"))
			o->interval_ms = (guint)v;
		else if (!strcmp(f, "-W"))
			o->wait_ms = (guint)MAX(v, 1);
		else
			o->size = (guint)MIN(v, 65536);
		*argc -= 2;
		*argv += 2;
	}
	if (*argc != 1) {
		fail("expected one NODE after the options");
		return FALSE;
	}
	return TRUE;
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
	guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
	return x < y ? -1 : x > y;
}

/* One ping: RTT in microseconds, or -1 with *error set. */
static gint64 ping_once(Cli *cli, const GlowAddr *dst, guint size, guint wait_ms, guint *hops, char **name,
                        GError **error)
{
	Glow__PingRequest req = GLOW__PING_REQUEST__INIT;
	Glow__PingReply *rep = NULL;
	g_autofree uint8_t *data = size ? g_malloc0(size) : NULL;
	gint64 t0, rtt;

	req.data.data = data;
	req.data.len = size;
	t0 = g_get_monotonic_time();
	if (!ensure_client(cli, error) ||
	    !glow_client_call_sync(cli->client, dst, "glow.Node", "Ping", &req.base, wait_ms, (ProtobufCMessage **)&rep,
	                           error))
		return -1;
	rtt = g_get_monotonic_time() - t0;
	*hops = rep->hops;
	if (name) {
		g_free(*name);
		*name = g_strdup(rep->name);
	}
	glow__ping_reply__free_unpacked(rep, NULL);
	return rtt;
}

static int cmd_ping(Cli *cli, int argc, char **argv)
{
	PingOptions o = { .count = 5, .interval_ms = 1000, .wait_ms = 1000 };
	g_autoptr(GError) e = NULL;
	g_autoptr(GArray) rtts = g_array_new(FALSE, FALSE, sizeof(guint64));
	g_autofree char *name = NULL;
	GlowAddr dst = { .resource = GLOW_RESOURCE_NODE };
	char id[GLOW_NODE_ID_TEXT_BUF];
	gint64 start;
	guint hops = 0;

	if (!parse_ping_options(&argc, &argv, &o, TRUE))
		return EXIT_USAGE;
	if (!resolve_node(cli, argv[0], &dst.node, &e))
		return fail_error(cli, e);
	glow_node_id_to_text(&dst.node, id);
	if (!cli->json)
		printf("PING %s\n", id);
	start = g_get_monotonic_time();
	for (guint seq = 1; seq <= o.count; seq++) {
		g_autoptr(GError) pe = NULL;
		gint64 sent = g_get_monotonic_time();
		gint64 rtt = ping_once(cli, &dst, o.size, o.wait_ms, &hops, &name, &pe);
		double at = (double)(sent - start) / 1000;
		if (rtt >= 0) {
			guint64 r = (guint64)rtt;
			g_array_append_val(rtts, r);
		}
		if (cli->json) {
			if (rtt >= 0)
				printf("{\"seq\": %u, \"at_ms\": %.1f, \"rtt_us\": %" G_GINT64_FORMAT ", \"hops\": %u}\n", seq, at, rtt,
				       hops);
			else
				printf("{\"seq\": %u, \"at_ms\": %.1f, \"error\": \"%s\"}\n", seq, at,
				       glow_error_symbol((uint32_t)pe->code));
		} else if (rtt >= 0) {
			g_autofree char *n = g_strescape(name ? name : "", NULL);
			printf("reply from \"%s\": seq=%u hops=%u time=%.3f ms\n", n, seq, hops, (double)rtt / 1000);
		} else {
			printf("seq=%u: %s\n", seq, pe->message);
		}
		fflush(stdout);
		if (pe && pe->domain == GLOW_ERROR && pe->code == GLOW_ERR_DAEMON)
			return fail_error(cli, pe);
		if (seq < o.count) {
			gint64 next = sent + (gint64)o.interval_ms * 1000, now = g_get_monotonic_time();
			if (next > now)
				g_usleep((gulong)(next - now));
		}
	}
	if (rtts->len) {
		g_array_sort(rtts, cmp_u64);
		guint64 sum = 0;
		for (guint i = 0; i < rtts->len; i++)
			sum += g_array_index(rtts, guint64, i);
		double mn = (double)g_array_index(rtts, guint64, 0) / 1000,
		       mx = (double)g_array_index(rtts, guint64, rtts->len - 1) / 1000,
		       avg = (double)sum / rtts->len / 1000, p50 = (double)g_array_index(rtts, guint64, rtts->len / 2) / 1000;
		if (cli->json)
			printf("{\"sent\": %u, \"received\": %u, \"min_ms\": %.3f, \"p50_ms\": %.3f, \"avg_ms\": %.3f, "
			       "\"max_ms\": %.3f, \"hops\": %u}\n",
			       o.count, rtts->len, mn, p50, avg, mx, hops);
		else
			printf("%u sent, %u received, %.0f%% lost; rtt min/p50/avg/max = %.3f/%.3f/%.3f/%.3f ms\n", o.count,
			       rtts->len, 100.0 * (o.count - rtts->len) / o.count, mn, p50, avg, mx);
	} else {
		if (cli->json)
			printf("{\"sent\": %u, \"received\": 0}\n", o.count);
		else
			printf("%u sent, 0 received\n", o.count);
	}
	return rtts->len ? EXIT_OK : EXIT_FAILED;
}

/* The path hop by hop: each node on it is asked for its next hop toward
 * the destination, and pinged from here. */
static int cmd_trace(Cli *cli, int argc, char **argv)
{
	g_autoptr(GError) e = NULL;
	GlowAddr target = { .resource = GLOW_RESOURCE_NODE }, at;
	char tid[GLOW_NODE_ID_TEXT_BUF];
	g_autoptr(JsonBuilder) jb = json_builder_new();
	gboolean done = FALSE;
	(void)argc;

	if (!resolve_node(cli, argv[0], &target.node, &e))
		return fail_error(cli, e);
	glow_node_id_to_text(&target.node, tid);
	at = local_node(cli);
	json_builder_begin_object(jb);
	json_builder_set_member_name(jb, "destination");
	json_builder_add_string_value(jb, tid);
	json_builder_set_member_name(jb, "hops");
	json_builder_begin_array(jb);
	if (!cli->json)
		printf("trace to %s\n", tid);
	for (guint hop = 1; hop <= GLOW_HOP_LIMIT_DEFAULT && !done; hop++) {
		Glow__RoutesRequest req = GLOW__ROUTES_REQUEST__INIT;
		Glow__RouteList *list = NULL;
		GlowAddr next = { .resource = GLOW_RESOURCE_NODE };
		g_autofree char *name = NULL;
		guint hops = 0;
		req.destination = tid;
		if (glow_node_id_equal(&at.node, &target.node))
			break;
		if (!call_sync(cli, &at, "glow.Node", "Routes", &req.base, (ProtobufCMessage **)&list, &e)) {
			g_prefix_error(&e, "hop %u: ", hop);
			return fail_error(cli, e);
		}
		if (list->n_routes != 1 || glow_node_id_from_text(list->routes[0]->next_hop_id, &next.node) != GLOW_ID_OK) {
			glow__route_list__free_unpacked(list, NULL);
			return fail("hop %u: %s has no route to the destination", hop, "a node on the path");
		}
		guint metric = list->routes[0]->metric;
		g_autofree char *next_id = g_strdup(list->routes[0]->next_hop_id);
		glow__route_list__free_unpacked(list, NULL);
		g_autoptr(GError) pe = NULL;
		gint64 rtt = ping_once(cli, &next, 0, cli->timeout_ms, &hops, &name, &pe);
		json_builder_begin_object(jb);
		json_builder_set_member_name(jb, "hop");
		json_builder_add_int_value(jb, hop);
		json_builder_set_member_name(jb, "node_id");
		json_builder_add_string_value(jb, next_id);
		json_builder_set_member_name(jb, "name");
		json_builder_add_string_value(jb, name ? name : "");
		json_builder_set_member_name(jb, "metric");
		json_builder_add_int_value(jb, metric);
		json_builder_set_member_name(jb, "rtt_us");
		json_builder_add_int_value(jb, rtt);
		json_builder_end_object(jb);
		if (!cli->json) {
			g_autofree char *n = g_strescape(name ? name : "?", NULL);
			g_autofree char *t = rtt >= 0 ? g_strdup_printf("%.3f ms", (double)rtt / 1000) : g_strdup("no answer");
			printf("%2u  %-12.12s %s  %s  metric %u\n", hop, n, next_id, t, metric);
		}
		done = glow_node_id_equal(&next.node, &target.node);
		at = next;
	}
	json_builder_end_array(jb);
	json_builder_set_member_name(jb, "reached");
	json_builder_add_boolean_value(jb, done);
	json_builder_end_object(jb);
	if (cli->json) {
		g_autoptr(JsonNode) root = json_builder_get_root(jb);
		print_json(root);
	}
	if (!done)
		return fail("the path is longer than %d hops", GLOW_HOP_LIMIT_DEFAULT);
	return EXIT_OK;
}

static const Command commands[] = {
	{ "status", "", "Show the local node: ID, name, addresses, links, resources.", cmd_status, 0, 0 },
	{ "id", "", "Print the local node's ID.", cmd_id, 0, 0 },
	{ "links", "", "List the node's links to other nodes.", cmd_links, 0, 0 },
	{ "connect", "HOST:PORT [NODE-ID]",
	  "Link to the node at HOST:PORT. With NODE-ID (or an 8+ character prefix), refuse any other node.",
	  cmd_connect, 1, 2 },
	{ "disconnect", "NODE-ID|LINK", "Close the link(s) to a node, or one link by number.", cmd_disconnect, 1, 1 },
	{ "resources", "[NODE]", "List the resources of the local node, or of a linked NODE.", cmd_resources, 0, 1 },
	{ "describe", "RESOURCE", "Show a resource's interface: methods and their message fields.", cmd_describe, 1, 1 },
	{ "call", "RESOURCE METHOD ['JSON']",
	  "Call METHOD of RESOURCE with a JSON argument; prints the JSON answer (one line per item for streams).",
	  cmd_call, 2, 3 },
	{ "routes", "[-n NODE] [DESTINATION]",
	  "Show the routing table (or the route to DESTINATION) of the local node, or of NODE with -n.", cmd_routes, 0, 3 },
	{ "ping", "[-c N] [-i MS] [-W MS] [-s BYTES] NODE",
	  "Call NODE's Ping N times (default 5), every MS (1000); print round trips and hop counts.", cmd_ping, 1, 9 },
	{ "trace", "NODE", "Show the path to NODE hop by hop, with each hop's round trip.", cmd_trace, 1, 1 },
	{ "init", "[--force]", "Make this node the first device of a new user.", cmd_init, 0, 1 },
	{ "invite", "[--ttl S] [--qr|--no-qr]",
	  "Invite a new device into this node's user: prints a code, a link and a QR code, waits for the device.",
	  cmd_invite, 0, 4 },
	{ "join", "CODE|LINK [--via HOST:PORT]", "Join the user of the device that printed CODE (glow invite).", cmd_join,
	  1, 3 },
	{ "name", "[NAME]", "Print or set this node's human name.", cmd_name, 0, 1 },
	{ "peers", "", "List the nodes this node knows: your devices and others, addresses, last seen.", cmd_peers, 0,
	  0 },
	{ "config", "get [KEY] | set KEY VALUE", "Show settings, or change one now (no restart) and save it.",
	  cmd_config, 1, 3 },
	{ "stop", "", "Stop the local node.", cmd_stop, 0, 0 },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: glow [OPTIONS] COMMAND [ARGS]\n\n"
	           "Control a Glow node and call resources anywhere in the mesh.\n\nCommands:\n");
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(f, "  %-10s %-26s %s\n", commands[i].name, strlen(commands[i].args) > 26 ? "..." : commands[i].args,
		        commands[i].help);
	fprintf(f, "\nOptions:\n"
	           "  -d, --state-dir DIR  the node's state dir (default $XDG_DATA_HOME/glow)\n"
	           "  -s, --socket PATH    the node's control socket (default STATE-DIR/glowd.sock)\n"
	           "  -j, --json           machine-readable output (errors too, as {\"error\":{...}})\n"
	           "  -t, --timeout MS     how long to wait for an answer (default 10000)\n"
	           "  -h, --help           this help; `glow COMMAND --help` for one command\n\n"
	           "RESOURCE is glow://NODE/ID, NODE/ID, or ID (a resource of the local node).\n"
	           "NODE is a node ID or a prefix of at least 8 of its characters.\n\n"
	           "Exit status: 0 success, 1 the call failed, 2 bad usage, 3 glowd not running.\n");
}

static void command_usage(const Command *c, FILE *f)
{
	fprintf(f, "Usage: glow [OPTIONS] %s %s\n\n%s\n", c->name, c->args, c->help);
}

int main(int argc, char **argv)
{
	Cli cli = { .timeout_ms = 10000 };
	int i = 1, rc;
	const Command *cmd = NULL;

	setlocale(LC_ALL, "");
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			cli.json = TRUE;
		} else if ((!strcmp(a, "-d") || !strcmp(a, "--state-dir")) && val) {
			cli.state_dir = argv[++i];
		} else if ((!strcmp(a, "-s") || !strcmp(a, "--socket")) && val) {
			cli.socket = argv[++i];
		} else if ((!strcmp(a, "-t") || !strcmp(a, "--timeout")) && val) {
			guint64 t;
			if (!parse_u64(val, &t) || t == 0 || t > GLOW_RPC_MAX_DEADLINE_MS) {
				fail("--timeout takes milliseconds, 1 to %u", GLOW_RPC_MAX_DEADLINE_MS);
				return EXIT_USAGE;
			}
			cli.timeout_ms = (guint)t;
			i++;
		} else {
			fail("unknown option %s (see glow --help)", a);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < G_N_ELEMENTS(commands); k++)
		if (!strcmp(argv[i], commands[k].name))
			cmd = &commands[k];
	if (!cmd) {
		fail("unknown command \"%s\" (see glow --help)", argv[i]);
		return EXIT_USAGE;
	}
	for (int k = i + 1; k < argc; k++) {
		if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
			command_usage(cmd, stdout);
			return EXIT_OK;
		}
	}
	int nargs = argc - i - 1;
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		command_usage(cmd, stderr);
		return EXIT_USAGE;
	}
	cli.ctx = g_main_context_new();
	rc = cmd->run(&cli, nargs, argv + i + 1);
	glow_client_free(cli.client);
	g_main_context_unref(cli.ctx);
	return rc;
}
