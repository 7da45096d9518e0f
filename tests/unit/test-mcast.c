/* test-mcast — the LAN beacon multicast socket, in a private network namespace.
 *
 * Multicast needs an interface with the MULTICAST flag, and this test must
 * not touch the host's network. So, when run as root, the test process
 * moves itself into a fresh network namespace (unshare(CLONE_NEWNET), before
 * any socket exists) that holds only lo, sets lo UP|MULTICAST (SIOCSIFFLAGS)
 * and gives IPv6 a multicast route on lo:
 *
 *   ip -6 route add local ff00::/8 dev lo table local
 *
 * (IPv4 needs no route: with IP_MULTICAST_IF the kernel does not consult
 * the FIB for multicast. A plain "ff00::/8 dev lo" route does not do for
 * IPv6: the kernel turns any non-local route via lo into a reject route,
 * and sends fail inside with IP_OUTNOROUTES; a "local" route is not
 * rejected and ip6_input hands the datagram to UDP.) Without root (or when
 * unshare is refused) every test is skipped with the reason. The namespace
 * goes away with the process. Interface churn is tested with a veth pair
 * created inside the namespace, when `ip` can create one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/mcast.h"
#include "wire/beacon.h"

typedef struct {
	char *skip;       /* why the tests cannot run, or NULL */
	gboolean have6;   /* the IPv6 route on lo could be added */
	guint lo;         /* lo's interface index */
} Env;

static Env env;

typedef struct {
	GByteArray *data;
	int family;
	guint ifindex;
} Datagram;

typedef struct {
	GPtrArray *got;   /* Datagram */
	guint count;
	gsize max_len;
} Rx;

static void datagram_free(gpointer p)
{
	Datagram *d = p;
	g_byte_array_unref(d->data);
	g_free(d);
}

static void rx_init(Rx *rx)
{
	memset(rx, 0, sizeof *rx);
	rx->got = g_ptr_array_new_with_free_func(datagram_free);
}

static void rx_clear(Rx *rx)
{
	g_ptr_array_unref(rx->got);
}

static void on_recv(const uint8_t *data, size_t len, const struct sockaddr *from, socklen_t from_len, guint ifindex,
                    gpointer user)
{
	Rx *rx = user;
	Datagram *d = g_new0(Datagram, 1);

	g_assert_nonnull(from);
	g_assert_cmpuint(from_len, >=, sizeof(struct sockaddr_in));
	g_assert_cmpuint(len, <=, GLOW_MCAST_MAX_DATAGRAM);
	d->data = g_byte_array_sized_new((guint)len);
	g_byte_array_append(d->data, data, (guint)len);
	d->family = from->sa_family;
	d->ifindex = ifindex;
	rx->count++;
	rx->max_len = MAX(rx->max_len, len);
	if (rx->got->len < 4096) /* the flood test only counts */
		g_ptr_array_add(rx->got, d);
	else
		datagram_free(d);
}

/* Found among the datagrams: with this payload, family (0: any), interface (0: any). */
static gboolean rx_has(const Rx *rx, const char *payload, int family, guint ifindex)
{
	for (guint i = 0; i < rx->got->len; i++) {
		const Datagram *d = rx->got->pdata[i];
		if (d->data->len == strlen(payload) && memcmp(d->data->data, payload, d->data->len) == 0 &&
		    (!family || d->family == family) && (!ifindex || d->ifindex == ifindex))
			return TRUE;
	}
	return FALSE;
}

static gboolean set_flag(gpointer user)
{
	*(gboolean *)user = TRUE;
	return G_SOURCE_REMOVE;
}

typedef gboolean (*DoneFn)(gpointer user);

/* Runs ctx until done() or ms pass. Returns done(). */
static gboolean pump(GMainContext *ctx, guint ms, DoneFn done, gpointer user)
{
	gboolean expired = FALSE;
	GSource *t = g_timeout_source_new(ms);

	g_source_set_callback(t, set_flag, &expired, NULL);
	g_source_attach(t, ctx);
	while (!expired && !(done && done(user)))
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
	return done ? done(user) : TRUE;
}

static gboolean run_ip(const char *args)
{
	g_autofree char *cmd = g_strconcat("ip ", args, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *err = NULL;
	int status = 0;

	if (!g_spawn_command_line_sync(cmd, NULL, &err, &status, &error)) {
		g_test_message("%s: %s", cmd, error->message);
		return FALSE;
	}
	if (!g_spawn_check_wait_status(status, NULL)) {
		g_test_message("%s: %s", cmd, err ? g_strstrip(err) : "failed");
		return FALSE;
	}
	return TRUE;
}

static gboolean lo_up_multicast(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	if (fd < 0)
		return FALSE;
	g_strlcpy(ifr.ifr_name, "lo", sizeof ifr.ifr_name);
	ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP | IFF_MULTICAST;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	close(fd);
	return ok;
}

static void setup_netns(void)
{
	if (geteuid() != 0) {
		env.skip = g_strdup("needs root: runs in a private network namespace (unshare CLONE_NEWNET)");
		return;
	}
	if (unshare(CLONE_NEWNET) != 0) {
		env.skip = g_strdup_printf("unshare(CLONE_NEWNET): %s", g_strerror(errno));
		return;
	}
	if (!lo_up_multicast()) {
		env.skip = g_strdup_printf("cannot set lo UP|MULTICAST in the namespace: %s", g_strerror(errno));
		return;
	}
	env.lo = if_nametoindex("lo");
	env.have6 = run_ip("-6 route add local ff00::/8 dev lo table local");
}

static guint16 random_port(void)
{
	return (guint16)g_random_int_range(20000, 60000);
}

#define SKIP_UNLESS_NETNS()                                                                     \
	do {                                                                                    \
		if (env.skip) {                                                                 \
			g_test_skip(env.skip);                                                  \
			return;                                                                 \
		}                                                                               \
	} while (0)

typedef struct {
	Rx *rx;
	const char *payload;
	int want;   /* datagrams with the payload expected */
} Wait;

static gboolean got_payloads(gpointer user)
{
	Wait *w = user;
	int n = 0;
	for (guint i = 0; i < w->rx->got->len; i++) {
		const Datagram *d = w->rx->got->pdata[i];
		n += d->data->len == strlen(w->payload) && memcmp(d->data->data, w->payload, d->data->len) == 0;
	}
	return n >= w->want;
}

static void test_exchange(void)
{
	SKIP_UNLESS_NETNS();
	g_autoptr(GMainContext) ctx = g_main_context_new();
	g_autoptr(GError) error = NULL;
	guint16 port = random_port();
	Rx ra, rb;
	guint families = env.have6 ? 2 : 1;

	rx_init(&ra);
	rx_init(&rb);
	g_autoptr(GlowMcast) a = glow_mcast_new(ctx, port, on_recv, &ra, &error);
	g_assert_no_error(error);
	g_autoptr(GlowMcast) b = glow_mcast_new(ctx, port, on_recv, &rb, &error);
	g_assert_no_error(error);
	/* lo only, v4 and v6 on it counted once. */
	g_assert_cmpuint(glow_mcast_interfaces(a), ==, 1);
	g_assert_cmpuint(glow_mcast_interfaces(b), ==, 1);

	g_assert_cmpuint(glow_mcast_send(a, (const uint8_t *)"from-a", 6), ==, families);
	g_assert_true(pump(ctx, 2000, got_payloads, &(Wait){ &rb, "from-a", (int)families }));
	g_assert_cmpuint(glow_mcast_send(b, (const uint8_t *)"from-b", 6), ==, families);
	g_assert_true(pump(ctx, 2000, got_payloads, &(Wait){ &ra, "from-b", (int)families }));

	/* Each arrives once per family, on lo; and (IP_MULTICAST_LOOP) the sender hears itself. */
	g_assert_true(rx_has(&rb, "from-a", AF_INET, env.lo));
	g_assert_true(rx_has(&ra, "from-b", AF_INET, env.lo));
	g_assert_true(rx_has(&ra, "from-a", AF_INET, env.lo));
	if (env.have6) {
		g_assert_true(rx_has(&rb, "from-a", AF_INET6, env.lo));
		g_assert_true(rx_has(&ra, "from-b", AF_INET6, env.lo));
	} else {
		g_test_message("no IPv6 multicast route on lo: IPv4 only");
	}
	pump(ctx, 100, NULL, NULL); /* no duplicates trickle in */
	g_assert_cmpuint(rb.count, ==, 2 * families);
	g_assert_cmpuint(ra.count, ==, 2 * families);

	/* Beacon-sized and the 1500-byte limit itself go through; more is not sent. */
	uint8_t big[GLOW_MCAST_MAX_DATAGRAM + 1];
	memset(big, 'b', sizeof big);
	g_assert_cmpuint(glow_mcast_send(a, big, GLOW_MCAST_MAX_DATAGRAM + 1), ==, 0);
	g_assert_cmpuint(glow_mcast_send(a, big, GLOW_MCAST_MAX_DATAGRAM), ==, families);
	rb.count = 0;
	pump(ctx, 200, NULL, NULL);
	g_assert_cmpuint(rb.count, ==, families);
	g_assert_cmpuint(rb.max_len, ==, GLOW_MCAST_MAX_DATAGRAM);
	rx_clear(&ra);
	rx_clear(&rb);
}

/* A plain socket that sends to the IPv4 group on lo, like any host could. */
static int raw_sender(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct ip_mreqn via = { .imr_ifindex = (int)env.lo };
	int big = 4 << 20;

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &via, sizeof via), ==, 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	return fd;
}

static ssize_t raw_send(int fd, guint16 port, const void *data, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, GLOW_BEACON_GROUP4, &to.sin_addr);
	return sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
}

static gboolean got_marker(gpointer user)
{
	return rx_has(user, "marker", AF_INET, 0);
}

static void test_oversize(void)
{
	SKIP_UNLESS_NETNS();
	g_autoptr(GMainContext) ctx = g_main_context_new();
	guint16 port = random_port();
	int fd = raw_sender();
	uint8_t big[9000];
	Rx rx;

	rx_init(&rx);
	g_autoptr(GlowMcast) m = glow_mcast_new(ctx, port, on_recv, &rx, NULL);
	g_assert_nonnull(m);
	memset(big, 'x', sizeof big);
	/* lo's MTU is 64 KiB, so these arrive whole; the socket must drop them. */
	g_assert_cmpint(raw_send(fd, port, big, GLOW_MCAST_MAX_DATAGRAM + 1), ==, GLOW_MCAST_MAX_DATAGRAM + 1);
	g_assert_cmpint(raw_send(fd, port, big, sizeof big), ==, sizeof big);
	g_assert_cmpint(raw_send(fd, port, "marker", 6), ==, 6);
	g_assert_true(pump(ctx, 2000, got_marker, &rx));
	g_assert_cmpuint(rx.count, ==, 1);
	g_assert_cmpuint(rx.max_len, ==, 6);
	close(fd);
	rx_clear(&rx);
}

typedef struct {
	guint ticks;
} Ticker;

static gboolean tick(gpointer user)
{
	((Ticker *)user)->ticks++;
	return G_SOURCE_CONTINUE;
}

static void test_flood(void)
{
	SKIP_UNLESS_NETNS();
	g_autoptr(GMainContext) ctx = g_main_context_new();
	guint16 port = random_port();
	int fd = raw_sender();
	Rx rx;
	Ticker ticker = { 0 };
	guint sent = 0, iterations = 0, busy_iterations = 0, ticks_while_busy = 0;
	gint64 t0;

	rx_init(&rx);
	g_autoptr(GlowMcast) m = glow_mcast_new(ctx, port, on_recv, &rx, NULL);
	g_assert_nonnull(m);

	/* 1000 datagrams queued before the loop runs at all: the receive buffer
	 * holds a few hundred of them, the rest the kernel drops. */
	t0 = g_get_monotonic_time();
	for (guint i = 0; i < 1000; i++) {
		char msg[32];
		int n = g_snprintf(msg, sizeof msg, "flood %u", i);
		sent += raw_send(fd, port, msg, (size_t)n) == n;
	}
	g_assert_cmpuint(sent, >, GLOW_MCAST_BURST);

	/* Another source of the same priority, always ready: it must get its
	 * turn in every iteration even while the socket still has data. */
	GSource *busy = g_timeout_source_new(0);
	g_source_set_callback(busy, tick, &ticker, NULL);
	g_source_attach(busy, ctx);

	/* Until an iteration finds nothing more: everything was queued already. */
	for (;;) {
		guint before = rx.count, ticks_before = ticker.ticks;
		g_main_context_iteration(ctx, FALSE);
		iterations++;
		guint read = rx.count - before;
		g_assert_cmpuint(read, <=, GLOW_MCAST_BURST); /* the bound per wakeup */
		if (read == GLOW_MCAST_BURST) {
			busy_iterations++;
			ticks_while_busy += ticker.ticks > ticks_before;
		}
		if (read == 0 && rx.count > 0)
			break;
		g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * G_USEC_PER_SEC);
	}
	g_test_message("flood: %u sent, %u received in %u iterations (%u full bursts)", sent, rx.count, iterations,
	               busy_iterations);
	g_assert_cmpuint(rx.count, >, GLOW_MCAST_BURST); /* it took more than one wakeup */
	g_assert_cmpuint(busy_iterations, >=, 1);
	g_assert_cmpuint(ticks_while_busy, ==, busy_iterations); /* never starved */
	g_assert_true(rx_has(&rx, "flood 0", AF_INET, env.lo));

	/* And the socket still works afterwards. */
	g_assert_cmpint(raw_send(fd, port, "marker", 6), ==, 6);
	g_assert_true(pump(ctx, 2000, got_marker, &rx));
	g_source_destroy(busy);
	g_source_unref(busy);
	close(fd);
	rx_clear(&rx);
}

/* New interfaces are joined on the next send (or rescan), gone ones dropped. */
static void test_interfaces_come_and_go(void)
{
	SKIP_UNLESS_NETNS();
	g_autoptr(GMainContext) ctx = g_main_context_new();
	guint16 port = random_port();
	Rx rx;
	guint t0_index, t1_index;

	if (!run_ip("link add glowt0 type veth peer name glowt1")) {
		g_test_skip("cannot create a veth pair in the namespace");
		return;
	}
	rx_init(&rx);
	g_autoptr(GlowMcast) m = glow_mcast_new(ctx, port, on_recv, &rx, NULL);
	g_assert_nonnull(m);
	g_assert_cmpuint(glow_mcast_interfaces(m), ==, 1); /* veth is still down */

	g_assert_true(run_ip("addr add 10.71.78.1/24 dev glowt0"));
	g_assert_true(run_ip("addr add 10.71.78.2/24 dev glowt1"));
	g_assert_true(run_ip("link set glowt0 up"));
	g_assert_true(run_ip("link set glowt1 up"));
	t0_index = if_nametoindex("glowt0");
	t1_index = if_nametoindex("glowt1");

	/* The send rescans: lo and both veth ends; the datagram sent on glowt0
	 * also arrives from the wire on glowt1. */
	g_assert_cmpuint(glow_mcast_send(m, (const uint8_t *)"hello", 5), >=, 3);
	g_assert_cmpuint(glow_mcast_interfaces(m), ==, 3);
	g_assert_true(pump(ctx, 2000, got_payloads, &(Wait){ &rx, "hello", 3 }));
	g_assert_true(rx_has(&rx, "hello", AF_INET, env.lo));
	g_assert_true(rx_has(&rx, "hello", AF_INET, t1_index) || rx_has(&rx, "hello", AF_INET, t0_index));

	/* Down is as good as gone; then really gone. */
	g_assert_true(run_ip("link set glowt1 down"));
	g_assert_cmpuint(glow_mcast_send(m, (const uint8_t *)"x", 1), >=, 1);
	g_assert_cmpuint(glow_mcast_interfaces(m), ==, 2);
	g_assert_true(run_ip("link del glowt0"));
	g_assert_cmpuint(glow_mcast_send(m, (const uint8_t *)"x", 1), ==, env.have6 ? 2 : 1);
	g_assert_cmpuint(glow_mcast_interfaces(m), ==, 1);
	rx_clear(&rx);
}

static void test_errors(void)
{
	SKIP_UNLESS_NETNS();
	g_autoptr(GMainContext) ctx = g_main_context_new();
	g_autoptr(GError) error = NULL;
	Rx rx;

	rx_init(&rx);
	g_assert_null(glow_mcast_new(ctx, 0, on_recv, &rx, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	glow_mcast_free(NULL);
	rx_clear(&rx);
}

int main(int argc, char **argv)
{
	/* Before g_test_init and before any socket: the whole process moves. */
	setup_netns();
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mcast/exchange", test_exchange);
	g_test_add_func("/mcast/oversize", test_oversize);
	g_test_add_func("/mcast/flood", test_flood);
	g_test_add_func("/mcast/interfaces", test_interfaces_come_and_go);
	g_test_add_func("/mcast/errors", test_errors);
	int rc = g_test_run();
	g_free(env.skip);
	return rc;
}
