/* glowd — the Glow node daemon. Parses flags and the config file, builds a
 * GlowNode on the main context, starts the built-in services, and runs
 * until SIGINT/SIGTERM or `glow stop`. */
#include <glib-unix.h>
#include <locale.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "services/diag/diag.h"
#include "services/rendezvous/rendezvous.h"
#include "transport/loop.h"

#define DEFAULT_LISTEN "0.0.0.0:7177"

typedef struct {
	GlowLoop *loop;
	gboolean verbose;
} App;

static void log_handler(const char *domain, GLogLevelFlags level, const char *msg, gpointer data)
{
	App *app = data;
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree char *ts = g_date_time_format(now, "%H:%M:%S.%f");
	const char *tag = "";
	(void)domain;

	if ((level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) && !app->verbose)
		return;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		tag = "error: ";
	else if (level & G_LOG_LEVEL_WARNING)
		tag = "warning: ";
	ts[12] = 0; /* milliseconds are enough */
	fprintf(stderr, "%s glowd: %s%s\n", ts, tag, msg);
}

static gboolean on_signal(gpointer data)
{
	App *app = data;
	g_message("stopping (signal)");
	glow_loop_quit(app->loop);
	return G_SOURCE_CONTINUE;
}

static void on_shutdown(GlowNode *n, gpointer data)
{
	App *app = data;
	(void)n;
	g_message("stopping (requested by a client)");
	glow_loop_quit(app->loop);
}

/* Settings the node does not run itself, changed by `glow config set`. */
static void on_config(GlowNode *n, const GlowNodeConfig *cfg, gpointer data)
{
	App *app = data;
	(void)n;
	glow_loop_set_busy_poll(app->loop, cfg->busy_poll_us);
}

static void print_banner(GlowNode *n)
{
	char id[GLOW_NODE_ID_TEXT_BUF];
	const GPtrArray *addrs = glow_node_listen_addresses(n);
	glow_node_id_to_text(glow_node_id(n), id);
	printf("glowd %s: node %s\n", GLOW_VERSION, id);
	glow_node_id_to_text(glow_node_user_id(n), id);
	printf("  user %s\n", id);
	for (guint i = 0; i < addrs->len; i++)
		printf("  listening on %s (tcp)\n", (const char *)addrs->pdata[i]);
	if (!addrs->len)
		printf("  not listening for links (outbound only)\n");
	if (glow_node_control_path(n))
		printf("  control socket %s\n", glow_node_control_path(n));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	App app = { 0 };
	GlowNodeConfig cfg;
	g_autofree char *state_dir = NULL, *name = NULL, *config = NULL;
	g_auto(GStrv) listen = NULL, connect = NULL;
	g_autofree char *relay = NULL;
	gboolean version = FALSE, no_control = FALSE, no_discovery = FALSE;
	gint discovery_port = 0;
	gint busy_poll_us = G_MININT; /* not given */
	g_autoptr(GError) error = NULL;
	GMainContext *ctx;
	GlowNode *node;
	int rc = 0;
	GOptionEntry entries[] = {
		{ "state-dir", 'd', 0, G_OPTION_ARG_FILENAME, &state_dir,
		  "Node state: identity, config, control socket (default $XDG_DATA_HOME/glow)", "DIR" },
		{ "listen", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &listen,
		  "Listen for links on HOST:PORT (repeatable; port 0 = any; \"none\" = do not listen; "
		  "default " DEFAULT_LISTEN ")", "HOST:PORT" },
		{ "connect", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &connect,
		  "Link to HOST:PORT at start, optionally checking the peer's ID (repeatable)", "HOST:PORT[/NODE-ID]" },
		{ "name", 'n', 0, G_OPTION_ARG_STRING, &name, "Human name of this node (default: host name)", "NAME" },
		{ "relay", 0, 0, G_OPTION_ARG_STRING, &relay,
		  "Whose traffic this node forwards: anyone (default), same-user or none", "POLICY" },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Config file (default STATE-DIR/glowd.conf)", "FILE" },
		{ "busy-poll-us", 0, 0, G_OPTION_ARG_INT, &busy_poll_us,
		  "Poll without sleeping for up to US microseconds while traffic is dense (0 = never; default 50)",
		  "US" },
		{ "no-discovery", 0, 0, G_OPTION_ARG_NONE, &no_discovery,
		  "No LAN beacons or DNS-SD (this node is found only by address)", NULL },
		{ "discovery-port", 0, 0, G_OPTION_ARG_INT, &discovery_port, "UDP port of the LAN beacons (default 7178)",
		  "PORT" },
		{ "no-control", 0, 0, G_OPTION_ARG_NONE, &no_control, "Do not open the control socket", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &app.verbose, "Log more", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) opts = g_option_context_new("- the Glow node daemon");

	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(opts, entries, NULL);
	g_option_context_set_description(opts,
	                                 "Runs one Glow node. Control it with the `glow` command.\n"
	                                 "Exit status: 0 stopped cleanly, 1 could not start, 2 bad usage.\n");
	if (!g_option_context_parse(opts, &argc, &argv, &error)) {
		fprintf(stderr, "glowd: %s (see glowd --help)\n", error->message);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "glowd: unexpected argument \"%s\" (see glowd --help)\n", argv[1]);
		return 2;
	}
	if (version) {
		printf("glowd %s\n", GLOW_VERSION);
		return 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "glowd: libsodium failed to initialise\n");
		return 1;
	}
	g_log_set_default_handler(log_handler, &app);

	glow_node_config_init(&cfg);
	cfg.state_dir = state_dir ? g_strdup(state_dir) : g_build_filename(g_get_user_data_dir(), "glow", NULL);
	cfg.name = g_strdup(name);
	cfg.control = !no_control;
	if (listen && !(g_strv_length(listen) == 1 && !strcmp(listen[0], "none")))
		cfg.listen = g_strdupv(listen);
	else if (listen)
		cfg.listen = g_new0(char *, 1);
	cfg.connect = g_strdupv(connect);
	if (relay) {
		if (!glow_relay_mode_parse(relay, &cfg.relay)) {
			fprintf(stderr, "glowd: --relay takes anyone, same-user or none, not \"%s\"\n", relay);
			glow_node_config_clear(&cfg);
			return 2;
		}
		cfg.relay_set = TRUE;
	}
	{
		cfg.config_path = config ? g_strdup(config) : g_build_filename(cfg.state_dir, "glowd.conf", NULL);
		if (!glow_node_config_load(&cfg, cfg.config_path, &error)) {
			fprintf(stderr, "glowd: %s\n", error->message);
			glow_node_config_clear(&cfg);
			return 1;
		}
	}
	if (busy_poll_us != G_MININT && (busy_poll_us < 0 || busy_poll_us > GLOW_LOOP_BUSY_POLL_MAX_US)) {
		fprintf(stderr, "glowd: --busy-poll-us takes 0 to %d, not %d\n", GLOW_LOOP_BUSY_POLL_MAX_US, busy_poll_us);
		glow_node_config_clear(&cfg);
		return 2;
	}
	if (busy_poll_us != G_MININT)
		cfg.busy_poll_us = (guint)busy_poll_us;
	if (discovery_port < 0 || discovery_port > 65535) {
		fprintf(stderr, "glowd: --discovery-port takes 1 to 65535, not %d\n", discovery_port);
		glow_node_config_clear(&cfg);
		return 2;
	}
	if (discovery_port)
		cfg.discovery_port = (guint)discovery_port;
	if (no_discovery)
		cfg.discovery = FALSE;
	if (!cfg.listen) {
		cfg.listen = g_new0(char *, 2);
		cfg.listen[0] = g_strdup(DEFAULT_LISTEN);
	}

	ctx = g_main_context_new();
	app.loop = glow_loop_new(ctx, cfg.busy_poll_us);
	node = glow_node_new(ctx, &cfg, &error);
	glow_node_config_clear(&cfg);
	if (!node) {
		fprintf(stderr, "glowd: %s\n", error->message);
		rc = 1;
		goto out;
	}
	if (!glow_diag_start(glow_node_resources(node), ctx, &error)) {
		fprintf(stderr, "glowd: cannot start the diag service: %s\n", error->message);
		rc = 1;
		goto out;
	}
	if (!glow_rendezvous_start(node, &error)) {
		fprintf(stderr, "glowd: cannot start the rendezvous service: %s\n", error->message);
		rc = 1;
		goto out;
	}
	glow_node_set_shutdown_handler(node, on_shutdown, &app);
	glow_node_set_config_handler(node, on_config, &app);
	for (int sig = 0; sig < 2; sig++) {
		GSource *s = g_unix_signal_source_new(sig ? SIGTERM : SIGINT);
		g_source_set_callback(s, on_signal, &app, NULL);
		g_source_attach(s, ctx);
		g_source_unref(s);
	}
	print_banner(node);
	glow_loop_run(app.loop);
out:
	glow_node_free(node);
	/* Let deferred frees (closed sessions, finished dials) run before exit. */
	while (g_main_context_iteration(ctx, FALSE))
		;
	glow_loop_free(app.loop);
	g_main_context_unref(ctx);
	return rc;
}
