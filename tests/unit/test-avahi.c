/* test-avahi.c — DNS-SD through avahi-daemon (src/transport/avahi.c).
 *
 * Tests that need a daemon use the running one; failing that, as root,
 * they start the system bus (if its socket is missing) and avahi-daemon
 * themselves, and stop what they started. The test body runs in a
 * subprocess (g_test_trap_subprocess) so that the parent stops the daemons
 * even when an assertion aborts the body. /avahi/comes-and-goes needs
 * neither: it runs its own bus at a private address and starts, kills and
 * restarts avahi-daemon on it (only where no other avahi-daemon runs).
 *
 * Gotchas found here (a container whose PID 1 is no init): dbus-daemon
 * leaves /run/dbus/pid and its socket behind when killed, and refuses to
 * start while the pid file exists; avahi-daemon drops root before it
 * connects to the bus, so a private bus socket must sit in a directory
 * user avahi can enter.
 */
#include "transport/avahi.h"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-glib/glib-watch.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define ID_A "AAAQEAY-EAUDAOB-CAJBIFQ-YDIOB4B-IBCEQTC-QKRMFYX-YDENBWH-A5DYPQG"
#define ID_B "P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2"
#define PORT_A 41001
#define PORT_B 41002
#define PORT_A2 41003

#define DEADLINE_MS 10000
#define CHILD_TIMEOUT_US (60 * G_USEC_PER_SEC)
#define SYSTEM_BUS_SOCKET "/run/dbus/system_bus_socket"
#define SYSTEM_BUS_PID "/run/dbus/pid"
#define SYSTEM_BUS_CONF "/usr/share/dbus-1/system.conf"
#define PRIVATE_BUS_ENV "GLOW_TEST_AVAHI_DIR" /* parent -> child: where the private bus lives */

/* --- processes ---------------------------------------------------------- */

static gboolean run(const char *const *argv, char **out)
{
	int status = 0;
	g_autoptr(GError) error = NULL;

	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, NULL, &status,
			  &error)) {
		g_test_message("%s: %s", argv[0], error->message);
		return FALSE;
	}
	return g_spawn_check_wait_status(status, NULL);
}

/* Gone or a zombie: PID 1 here may be slow to reap daemons. */
static gboolean pid_gone(GPid pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", pid);
	g_autofree char *stat = NULL;

	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return TRUE;
	const char *paren = strrchr(stat, ')');
	return paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
}

static void stop_pid(GPid pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200 && !pid_gone(pid); i++)
		g_usleep(10000);
}

/* dbus-daemon with the system policy; returns its pid or 0. */
static GPid start_bus(const char *address)
{
	g_autofree char *opt = address ? g_strconcat("--address=", address, NULL) : NULL;
	const char *sys[] = { "dbus-daemon", "--system", "--fork", "--print-pid", NULL };
	const char *priv[] = { "dbus-daemon", "--config-file=" SYSTEM_BUS_CONF, opt, "--fork",
			       "--print-pid", "--nopidfile", NULL };
	g_autofree char *out = NULL;

	if (!run(address ? priv : sys, &out))
		return 0;
	return (GPid)g_ascii_strtoll(out, NULL, 10);
}

static gboolean start_avahi_daemon(void)
{
	const char *argv[] = { "avahi-daemon", "--daemonize", "--no-chroot", NULL };
	return run(argv, NULL);
}

static void kill_avahi_daemon(void)
{
	const char *argv[] = { "avahi-daemon", "--kill", NULL };
	(void)run(argv, NULL);
	/* --kill only signals; wait for the pid file to go. */
	for (int i = 0; i < 200 && g_file_test("/run/avahi-daemon/pid", G_FILE_TEST_EXISTS); i++)
		g_usleep(10000);
}

/* An avahi-daemon on this machine, on any bus (its pid file is global). */
static gboolean avahi_daemon_running(void)
{
	const char *argv[] = { "avahi-daemon", "--check", NULL };
	return run(argv, NULL);
}

static gboolean have(const char *prog)
{
	g_autofree char *p = g_find_program_in_path(prog);
	return p != NULL;
}

/* Whether a client gets through to a daemon on the system bus we see. */
static gboolean daemon_reachable(void)
{
	AvahiGLibPoll *poll = avahi_glib_poll_new(NULL, G_PRIORITY_DEFAULT);
	int err = 0;
	AvahiClient *c = avahi_client_new(avahi_glib_poll_get(poll), 0, NULL, NULL, &err);
	gboolean ok = c != NULL;

	if (c != NULL)
		avahi_client_free(c);
	avahi_glib_poll_free(poll);
	return ok;
}

/* --- daemons for the parent ------------------------------------------------ */

typedef struct {
	GPid bus;              /* system bus we started, or 0 */
	gboolean avahi;        /* avahi-daemon we started */
	const char *why_not;   /* reason to skip */
} Daemons;

static gboolean system_bus_up(Daemons *d)
{
	if (g_file_test(SYSTEM_BUS_SOCKET, G_FILE_TEST_EXISTS) || g_getenv("DBUS_SYSTEM_BUS_ADDRESS"))
		return TRUE;
	if (!have("dbus-daemon")) {
		d->why_not = "no system bus and no dbus-daemon to start one";
		return FALSE;
	}
	/* No socket, so no bus: a pid file left by a killed one would stop it. */
	g_unlink(SYSTEM_BUS_PID);
	d->bus = start_bus(NULL);
	if (d->bus == 0)
		d->why_not = "dbus-daemon --system did not start";
	return d->bus != 0;
}

static void daemons_down(Daemons *d)
{
	if (d->avahi)
		kill_avahi_daemon();
	if (d->bus != 0) {
		stop_pid(d->bus);
		g_unlink(SYSTEM_BUS_PID);
		g_unlink(SYSTEM_BUS_SOCKET);
	}
	*d = (Daemons){ 0 };
}

static gboolean daemons_up(Daemons *d)
{
	if (daemon_reachable())
		return TRUE;
	if (geteuid() != 0) {
		d->why_not = "no avahi-daemon reachable, and not root to start one";
		return FALSE;
	}
	if (!have("avahi-daemon")) {
		d->why_not = "no avahi-daemon reachable or installed";
		return FALSE;
	}
	if (!system_bus_up(d))
		return FALSE;
	d->avahi = !avahi_daemon_running() && start_avahi_daemon();
	for (int i = 0; i < 500; i++) {
		if (daemon_reachable())
			return TRUE;
		g_usleep(10000);
	}
	d->why_not = "avahi-daemon could not be reached or started";
	daemons_down(d);
	return FALSE;
}

/* Runs the current test's body in a subprocess with daemons up. */
static void run_child_with_daemons(void)
{
	Daemons d = { 0 };

	if (!daemons_up(&d)) {
		g_test_skip(d.why_not);
		return;
	}
	g_test_trap_subprocess(NULL, CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
	daemons_down(&d);
	g_test_trap_assert_passed();
}

/* --- what a node hears --------------------------------------------------------- */

typedef struct {
	const char *self_id;
	const char *peer_id;
	guint16 peer_port;    /* the last port the peer was reported with */
	guint peer_reports;
	GHashTable *by_port;  /* port -> id reported with it ("" for none) */
} Seen;

static void seen_init(Seen *s, const char *self_id, const char *peer_id)
{
	*s = (Seen){ .self_id = self_id, .peer_id = peer_id };
	s->by_port = g_hash_table_new_full(NULL, NULL, NULL, g_free);
}

static void seen_clear(Seen *s)
{
	g_hash_table_destroy(s->by_port);
}

static void on_found(const char *id, const char *address, guint16 port, gint ifindex, gpointer user)
{
	Seen *s = user;
	g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(address);

	g_assert_nonnull(inet);
	g_assert_cmpint(ifindex, >, 0);
	if (id != NULL)
		g_assert_cmpstr(id, !=, s->self_id); /* never ourselves */
	g_hash_table_insert(s->by_port, GUINT_TO_POINTER(port), g_strdup(id != NULL ? id : ""));
	if (id != NULL && s->peer_id != NULL && strcmp(id, s->peer_id) == 0) {
		s->peer_port = port;
		s->peer_reports++;
	}
}

typedef gboolean (*Cond)(gpointer data);

static gboolean tick(gpointer data)
{
	(void)data;
	return G_SOURCE_CONTINUE;
}

/* Iterates ctx until cond holds or ms pass. */
static gboolean wait_until(GMainContext *ctx, Cond cond, gpointer data, guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	GSource *t = g_timeout_source_new(20);
	gboolean ok;

	g_source_set_callback(t, tick, NULL, NULL);
	g_source_attach(t, ctx);
	while (!(ok = cond(data)) && g_get_monotonic_time() < end)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
	return ok;
}

static gboolean never(gpointer data)
{
	(void)data;
	return FALSE;
}

static void spin(GMainContext *ctx, guint ms)
{
	(void)wait_until(ctx, never, NULL, ms);
}

typedef struct {
	GlowAvahi *a, *b;
	Seen *sa, *sb;
	guint16 port_a, port_b; /* each must be seen with the other's port */
} Pair;

static gboolean pair_found(gpointer data)
{
	Pair *p = data;
	return glow_avahi_running(p->a) && glow_avahi_running(p->b) && p->sb->peer_port == p->port_a &&
	       p->sa->peer_port == p->port_b;
}

static gboolean pair_down(gpointer data)
{
	Pair *p = data;
	return !glow_avahi_running(p->a) && !glow_avahi_running(p->b);
}

/* --- tests ------------------------------------------------------------------------ */

static guint absent_lines;

static void count_absent(const char *domain, GLogLevelFlags level, const char *msg, gpointer user)
{
	(void)domain, (void)level, (void)user;
	if (strstr(msg, "no avahi-daemon") != NULL)
		absent_lines++;
}

/* No bus at all: still a GlowAvahi, not running, one log line across
 * retries. */
static void test_no_daemon(void)
{
	if (!g_test_subprocess()) {
		g_test_trap_subprocess(NULL, CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
		g_test_trap_assert_passed();
		return;
	}
	/* Before libdbus reads it: it caches the address per process. */
	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/glow-test-bus", TRUE);
	g_log_set_handler(NULL, G_LOG_LEVEL_INFO, count_absent, NULL);
	GMainContext *ctx = g_main_context_new();
	Seen s;
	seen_init(&s, ID_A, NULL);

	GlowAvahi *a = glow_avahi_new(ctx, "glow-test", ID_A, PORT_A, on_found, &s);
	g_assert_nonnull(a);
	g_assert_false(glow_avahi_running(a));
	glow_avahi_update(a, "renamed", PORT_A2);
	spin(ctx, 5500); /* past one retry */
	g_assert_false(glow_avahi_running(a));
	g_assert_cmpuint(absent_lines, ==, 1);
	g_assert_cmpuint(g_hash_table_size(s.by_port), ==, 0);
	glow_avahi_free(a);
	glow_avahi_free(NULL);
	seen_clear(&s);
	g_main_context_unref(ctx);
}

/* Two nodes in one process find each other, then one changes port. */
static void check_pair(const char *name_a, const char *name_b)
{
	GMainContext *ctx = g_main_context_new();
	Seen sa, sb;
	seen_init(&sa, ID_A, ID_B);
	seen_init(&sb, ID_B, ID_A);
	Pair p = { .sa = &sa, .sb = &sb, .port_a = PORT_A, .port_b = PORT_B };

	p.a = glow_avahi_new(ctx, name_a, ID_A, PORT_A, on_found, &sa);
	p.b = glow_avahi_new(ctx, name_b, ID_B, PORT_B, on_found, &sb);
	g_assert_true(wait_until(ctx, pair_found, &p, DEADLINE_MS));

	glow_avahi_update(p.a, name_a, PORT_A2);
	p.port_a = PORT_A2;
	g_assert_true(wait_until(ctx, pair_found, &p, DEADLINE_MS));
	/* The old port is gone: nothing reports it once the update settles. */
	spin(ctx, 500);
	g_assert_cmpuint(sb.peer_port, ==, PORT_A2);

	glow_avahi_free(p.a);
	glow_avahi_free(p.b);
	seen_clear(&sa);
	seen_clear(&sb);
	g_main_context_unref(ctx);
}

static void test_pair(void)
{
	if (!g_test_subprocess()) {
		run_child_with_daemons();
		return;
	}
	check_pair("glow-test-a", "glow-test-b");
}

/* Same name: the second is renamed by collision handling and both still
 * publish and find each other. */
static void test_same_name(void)
{
	if (!g_test_subprocess()) {
		run_child_with_daemons();
		return;
	}
	check_pair("glow-test", "glow-test");
}

/* A raw avahi client publishing services, to feed the browser hostile or
 * numerous TXT records. One group per service: the daemon caps a group at
 * 32 entries (entries-per-entry-group-max). */
typedef struct {
	AvahiGLibPoll *poll;
	AvahiClient *client;
} Publisher;

static gboolean client_running(gpointer data)
{
	Publisher *p = data;
	return avahi_client_get_state(p->client) == AVAHI_CLIENT_S_RUNNING;
}

static void publisher_init(Publisher *p, GMainContext *ctx)
{
	int err = 0;

	p->poll = avahi_glib_poll_new(ctx, G_PRIORITY_DEFAULT);
	p->client = avahi_client_new(avahi_glib_poll_get(p->poll), 0, NULL, NULL, &err);
	g_assert_nonnull(p->client);
	g_assert_true(wait_until(ctx, client_running, p, DEADLINE_MS));
}

static void publish_raw(Publisher *p, const char *name, guint16 port, const char *txt1, const char *txt2)
{
	AvahiEntryGroup *g = avahi_entry_group_new(p->client, NULL, NULL);
	g_assert_nonnull(g);
	int r = avahi_entry_group_add_service(g, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, name,
					      GLOW_AVAHI_SERVICE_TYPE, NULL, NULL, port, txt1, txt2, NULL);
	g_assert_cmpstr(avahi_strerror(r), ==, avahi_strerror(AVAHI_OK));
	g_assert_cmpint(avahi_entry_group_commit(g), ==, AVAHI_OK);
}

static void publisher_clear(Publisher *p)
{
	avahi_client_free(p->client); /* frees the groups too */
	avahi_glib_poll_free(p->poll);
}

typedef struct {
	Seen *s;
	const guint16 *ports;
	gsize n;
} PortsSeen;

static gboolean ports_seen(gpointer data)
{
	PortsSeen *ps = data;
	for (gsize i = 0; i < ps->n; i++) {
		if (!g_hash_table_contains(ps->s->by_port, GUINT_TO_POINTER(ps->ports[i])))
			return FALSE;
	}
	return TRUE;
}

static const char *id_at(Seen *s, guint16 port)
{
	return g_hash_table_lookup(s->by_port, GUINT_TO_POINTER(port));
}

static void test_hostile_txt(void)
{
	if (!g_test_subprocess()) {
		run_child_with_daemons();
		return;
	}
	GMainContext *ctx = g_main_context_new();
	Publisher pub;
	Seen s;
	g_autofree char *too_long = g_strnfill(GLOW_AVAHI_MAX_ID_LEN + 1, 'L');
	g_autofree char *long_id = g_strconcat("id=", too_long, NULL);
	g_autofree char *max_id = g_strnfill(GLOW_AVAHI_MAX_ID_LEN, 'M');
	g_autofree char *max_txt = g_strconcat("id=", max_id, NULL);

	seen_init(&s, ID_A, NULL);
	publisher_init(&pub, ctx);
	publish_raw(&pub, "glow-hostile-long", 5001, "v=1", long_id);
	publish_raw(&pub, "glow-hostile-ctl", 5002, "v=1", "id=AB\x01" "CD");
	publish_raw(&pub, "glow-hostile-v2", 5003, "v=2", "id=FROM-THE-FUTURE");
	publish_raw(&pub, "glow-hostile-self", 5004, "v=1", "id=" ID_A);
	publish_raw(&pub, "glow-hostile-max", 5005, "v=1", max_txt);
	publish_raw(&pub, "glow-hostile-none", 5006, "v=1", "other=x");
	publish_raw(&pub, "glow-hostile-bare", 5007, "v=1", "id");

	GlowAvahi *a = glow_avahi_new(ctx, "glow-test-a", ID_A, PORT_A, on_found, &s);
	const guint16 want[] = { 5001, 5002, 5003, 5005, 5006, 5007 };
	PortsSeen ps = { &s, want, G_N_ELEMENTS(want) };
	g_assert_true(wait_until(ctx, ports_seen, &ps, DEADLINE_MS));
	spin(ctx, 500);

	g_assert_cmpstr(id_at(&s, 5001), ==, "");   /* too long: refused, not cut */
	g_assert_cmpstr(id_at(&s, 5002), ==, "");   /* not printable */
	g_assert_cmpstr(id_at(&s, 5003), ==, "");   /* another TXT version */
	g_assert_null(id_at(&s, 5004));             /* our own id: not reported */
	g_assert_cmpstr(id_at(&s, 5005), ==, max_id);
	g_assert_cmpstr(id_at(&s, 5006), ==, "");
	g_assert_cmpstr(id_at(&s, 5007), ==, "");
	g_assert_null(id_at(&s, PORT_A));           /* ourselves */

	glow_avahi_free(a);
	publisher_clear(&pub);
	seen_clear(&s);
	g_main_context_unref(ctx);
}

#define MANY 80

/* More services than resolvers: bounded, no crash, some reported. */
static void test_many(void)
{
	if (!g_test_subprocess()) {
		run_child_with_daemons();
		return;
	}
	GMainContext *ctx = g_main_context_new();
	Publisher pub;
	Seen s;

	seen_init(&s, ID_A, NULL);
	publisher_init(&pub, ctx);
	for (int i = 0; i < MANY; i++) {
		g_autofree char *name = g_strdup_printf("glow-many-%d", i);
		g_autofree char *id = g_strdup_printf("id=many-%d", i);
		publish_raw(&pub, name, (guint16)(6000 + i), "v=1", id);
	}

	GlowAvahi *a = glow_avahi_new(ctx, "glow-test-a", ID_A, PORT_A, on_found, &s);
	spin(ctx, 3000);
	guint n = g_hash_table_size(s.by_port);
	g_test_message("%u of %d services reported", n, MANY);
	g_assert_cmpuint(n, >, 0);
	g_assert_cmpuint(n, <=, GLOW_AVAHI_MAX_RESOLVERS);

	glow_avahi_free(a);
	publisher_clear(&pub);
	seen_clear(&s);
	g_main_context_unref(ctx);
}

/* The bus appears after the nodes start, then avahi-daemon; then the daemon
 * restarts. All on a private bus, so it runs only where no avahi-daemon
 * runs already (avahi-daemon's pid file is machine-wide). */
static void comes_and_goes(const char *dir)
{
	g_autofree char *address = g_strdup_printf("unix:path=%s/bus", dir);
	g_autofree char *pidfile = g_build_filename(dir, "bus.pid", NULL);
	GMainContext *ctx = g_main_context_new();
	Seen sa, sb;

	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE); /* for us and the daemons we start */
	seen_init(&sa, ID_A, ID_B);
	seen_init(&sb, ID_B, ID_A);
	Pair p = { .sa = &sa, .sb = &sb, .port_a = PORT_A, .port_b = PORT_B };
	p.a = glow_avahi_new(ctx, "glow-test-a", ID_A, PORT_A, on_found, &sa);
	p.b = glow_avahi_new(ctx, "glow-test-b", ID_B, PORT_B, on_found, &sb);
	spin(ctx, 300);
	g_assert_false(glow_avahi_running(p.a));

	GPid bus = start_bus(address);
	g_assert_cmpint(bus, >, 0);
	g_autofree char *pid_text = g_strdup_printf("%d", bus);
	g_assert_true(g_file_set_contents(pidfile, pid_text, -1, NULL)); /* for the parent's cleanup */
	spin(ctx, 300);
	g_assert_false(glow_avahi_running(p.a));

	g_assert_true(start_avahi_daemon());
	/* Up to one RETRY_MS (5 s) before the clients look for the bus again. */
	g_assert_true(wait_until(ctx, pair_found, &p, DEADLINE_MS));

	kill_avahi_daemon();
	g_assert_true(wait_until(ctx, pair_down, &p, DEADLINE_MS));
	sa.peer_port = sb.peer_port = 0;
	g_assert_true(start_avahi_daemon());
	g_assert_true(wait_until(ctx, pair_found, &p, DEADLINE_MS));

	glow_avahi_free(p.a);
	glow_avahi_free(p.b);
	seen_clear(&sa);
	seen_clear(&sb);
	g_main_context_unref(ctx);
	kill_avahi_daemon();
	stop_pid(bus);
}

static void test_comes_and_goes(void)
{
	if (g_test_subprocess()) {
		comes_and_goes(g_getenv(PRIVATE_BUS_ENV));
		return;
	}
	if (geteuid() != 0 || !have("dbus-daemon") || !have("avahi-daemon") ||
	    !g_file_test(SYSTEM_BUS_CONF, G_FILE_TEST_EXISTS)) {
		g_test_skip("needs root, dbus-daemon and avahi-daemon");
		return;
	}
	if (avahi_daemon_running()) {
		g_test_skip("an avahi-daemon runs already: cannot start a second one");
		return;
	}
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("glow-avahi-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(dir, 0755), ==, 0); /* avahi-daemon connects as user avahi */
	g_setenv(PRIVATE_BUS_ENV, dir, TRUE);
	g_test_trap_subprocess(NULL, CHILD_TIMEOUT_US, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_unsetenv(PRIVATE_BUS_ENV);

	/* Whatever the child left running. */
	g_autofree char *pidfile = g_build_filename(dir, "bus.pid", NULL);
	g_autofree char *sock = g_build_filename(dir, "bus", NULL);
	g_autofree char *pid_text = NULL;
	if (avahi_daemon_running())
		kill_avahi_daemon();
	if (g_file_get_contents(pidfile, &pid_text, NULL, NULL))
		stop_pid((GPid)g_ascii_strtoll(pid_text, NULL, 10));
	g_unlink(pidfile);
	g_unlink(sock);
	g_rmdir(dir);
	g_test_trap_assert_passed();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/avahi/no-daemon", test_no_daemon);
	g_test_add_func("/avahi/pair", test_pair);
	g_test_add_func("/avahi/same-name", test_same_name);
	g_test_add_func("/avahi/hostile-txt", test_hostile_txt);
	g_test_add_func("/avahi/many", test_many);
	g_test_add_func("/avahi/comes-and-goes", test_comes_and_goes);
	return g_test_run();
}
