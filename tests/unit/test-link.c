/* Links in one process: two GlowLinks joined through a relay that the test
 * controls, so it can watch, drop, tamper with and replay records. */
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <unistd.h>

#include "link/link.h"

typedef struct {
	GlowLink *link;
	gboolean established;
	gboolean closed;
	char *reason;
	GPtrArray *packets; /* GBytes: header + payload */
} End;

typedef struct {
	int fd_a, fd_b;          /* relay's ends: a faces the initiator, b the responder */
	GlowFdWatch *wa, *wb;
	gboolean blackhole;      /* drop everything */
	int tamper_after;        /* flip a byte in the n-th chunk a->b after the handshake, -1 = never */
	gboolean replay;         /* duplicate the next chunk a->b */
	guint64 a_to_b_bytes;
	int chunks;
	GByteArray *capture;     /* when set, every byte a->b */
} Relay;

typedef struct {
	GMainContext *ctx;
	GlowIdentity *ida, *idb;
	End a, b;
	Relay relay;
} Fixture;

static void on_established(GlowLink *l, gpointer user)
{
	End *e = user;
	(void)l;
	e->established = TRUE;
}

static void on_packet(GlowLink *l, const GlowPacketHeader *h, const uint8_t *payload, gpointer user)
{
	End *e = user;
	uint8_t *buf = g_malloc(GLOW_PACKET_HEADER_LEN + h->payload_len);
	(void)l;
	glow_packet_encode_header(h, buf);
	memcpy(buf + GLOW_PACKET_HEADER_LEN, payload, h->payload_len);
	g_ptr_array_add(e->packets, g_bytes_new_take(buf, GLOW_PACKET_HEADER_LEN + h->payload_len));
}

static void on_closed(GlowLink *l, const char *reason, gpointer user)
{
	End *e = user;
	(void)l;
	e->closed = TRUE;
	g_free(e->reason);
	e->reason = g_strdup(reason);
}

static const GlowLinkCallbacks cb = { on_established, on_packet, on_closed };

/* What `to` takes without blocking, roughly: the relay shares the thread
 * with both links, so a blocking write would wait for a reader that never
 * runs. Half the free send buffer leaves room for the kernel's overhead. */
static size_t room(int to)
{
	int sndbuf = 0, outq = 0;
	socklen_t sl = sizeof sndbuf;
	if (getsockopt(to, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) != 0 || ioctl(to, SIOCOUTQ, &outq) != 0)
		return 4096;
	return sndbuf > outq ? (size_t)(sndbuf - outq) / 2 : 0;
}

static void pump(Relay *r, int from, int to, gboolean a_to_b)
{
	uint8_t buf[256 * 1024];
	size_t want = MIN(sizeof buf, room(to));
	if (want < 1024 && !r->blackhole)
		return; /* the reader catches up first; the watch fires again */
	ssize_t n = read(from, buf, r->blackhole ? sizeof buf : want);
	if (n <= 0) {
		shutdown(to, SHUT_WR);
		return;
	}
	if (r->blackhole)
		return;
	if (a_to_b && r->capture)
		g_byte_array_append(r->capture, buf, (guint)n);
	if (a_to_b) {
		r->chunks++;
		if (r->tamper_after >= 0 && r->a_to_b_bytes > 200 && r->tamper_after-- == 0)
			buf[n / 2] ^= 0x40;
		r->a_to_b_bytes += (guint64)n;
	}
	g_assert_cmpint(write(to, buf, (size_t)n), ==, n);
	if (a_to_b && r->replay && r->a_to_b_bytes > 200) {
		r->replay = FALSE;
		g_assert_cmpint(write(to, buf, (size_t)n), ==, n);
	}
}

static gboolean relay_a(int fd, GIOCondition c, gpointer data)
{
	Relay *r = data;
	(void)c;
	pump(r, fd, r->fd_b, TRUE);
	return TRUE;
}

static gboolean relay_b(int fd, GIOCondition c, gpointer data)
{
	Relay *r = data;
	(void)c;
	pump(r, fd, r->fd_a, FALSE);
	return TRUE;
}

static void fixture_start(Fixture *f, const GlowLinkConfig *cfg, const GlowNodeId *expect)
{
	uint8_t seed[32] = { 1 };
	int pa[2], pb[2];

	memset(f, 0, sizeof *f);
	f->ctx = g_main_context_new();
	f->ida = glow_identity_from_seed(seed);
	seed[0] = 2;
	f->idb = glow_identity_from_seed(seed);
	f->a.packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	f->b.packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, pa), ==, 0);
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, pb), ==, 0);
	f->relay.fd_a = pa[1];
	f->relay.fd_b = pb[1];
	f->relay.tamper_after = -1;
	f->relay.wa = glow_fd_watch_new(f->ctx, pa[1], G_IO_IN, relay_a, &f->relay);
	f->relay.wb = glow_fd_watch_new(f->ctx, pb[1], G_IO_IN, relay_b, &f->relay);
	f->a.link = glow_link_new(f->ctx, 1, glow_conn_new(&glow_unix_ops, pa[0]), TRUE, f->ida, "alpha", expect, cfg,
	                          &cb, &f->a);
	f->b.link = glow_link_new(f->ctx, 2, glow_conn_new(&glow_unix_ops, pb[0]), FALSE, f->idb, "beta", NULL, cfg,
	                          &cb, &f->b);
}

static void fixture_stop(Fixture *f)
{
	glow_link_close(f->a.link, "test over");
	glow_link_close(f->b.link, "test over");
	glow_link_unref(f->a.link);
	glow_link_unref(f->b.link);
	glow_fd_watch_free(f->relay.wa);
	glow_fd_watch_free(f->relay.wb);
	close(f->relay.fd_a);
	close(f->relay.fd_b);
	while (g_main_context_iteration(f->ctx, FALSE))
		;
	g_main_context_unref(f->ctx);
	glow_identity_free(f->ida);
	glow_identity_free(f->idb);
	g_ptr_array_unref(f->a.packets);
	g_ptr_array_unref(f->b.packets);
	g_free(f->a.reason);
	g_free(f->b.reason);
}

static gboolean timed_out(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the loop until cond(f) or ms pass. Returns cond's final value. */
static gboolean run_until(Fixture *f, gboolean (*cond)(Fixture *), guint ms)
{
	gboolean expired = FALSE;
	GSource *t = glow_timer_new(f->ctx, ms, timed_out, &expired);
	while (!cond(f) && !expired)
		g_main_context_iteration(f->ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
	return cond(f);
}

static gboolean both_up(Fixture *f) { return f->a.established && f->b.established; }
static gboolean both_closed(Fixture *f) { return f->a.closed && f->b.closed; }
static gboolean b_closed(Fixture *f) { return f->b.closed; }
static gboolean a_closed(Fixture *f) { return f->a.closed; }

static guint want_packets;
static gboolean b_has_packets(Fixture *f) { return f->b.packets->len >= want_packets || f->b.closed; }

static GlowLinkConfig test_config(void)
{
	GlowLinkConfig cfg;
	glow_link_config_default(&cfg);
	return cfg;
}

static void test_handshake(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	g_assert_true(glow_node_id_equal(glow_link_peer(f.a.link), &f.idb->id));
	g_assert_true(glow_node_id_equal(glow_link_peer(f.b.link), &f.ida->id));
	g_assert_cmpstr(glow_link_peer_name(f.a.link), ==, "beta");
	g_assert_cmpstr(glow_link_peer_name(f.b.link), ==, "alpha");
	fixture_stop(&f);
}

static void send_packets(Fixture *f, guint n, gsize max_payload, GPtrArray *sent)
{
	for (guint i = 0; i < n; i++) {
		gsize len = i == n - 1 ? max_payload : (i * 7919u) % (max_payload + 1);
		uint8_t *p = g_malloc(len + 1);
		GlowPacketHeader h = { .version = 1, .type = GLOW_PKT_MESSAGE, .hop_limit = 3,
		                       .payload_len = (uint32_t)len, .call_id = i };
		h.src.node = f->ida->id;
		h.dst.node = f->idb->id;
		randombytes_buf(p, len);
		g_assert_true(glow_link_send(f->a.link, &h, p));
		uint8_t *whole = g_malloc(GLOW_PACKET_HEADER_LEN + len);
		glow_packet_encode_header(&h, whole);
		memcpy(whole + GLOW_PACKET_HEADER_LEN, p, len);
		g_ptr_array_add(sent, g_bytes_new_take(whole, GLOW_PACKET_HEADER_LEN + len));
		g_free(p);
	}
}

static void check_received(Fixture *f, GPtrArray *sent)
{
	g_assert_cmpuint(f->b.packets->len, ==, sent->len);
	for (guint i = 0; i < sent->len; i++)
		g_assert_true(g_bytes_equal(sent->pdata[i], f->b.packets->pdata[i]));
}

static void test_packets_intact(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	/* Payloads from 0 bytes to 1 MiB: the largest spans 17 records. */
	send_packets(&f, 40, GLOW_PACKET_MAX_PAYLOAD, sent);
	want_packets = 40;
	g_assert_true(run_until(&f, b_has_packets, 10000));
	g_assert_false(f.b.closed);
	check_received(&f, sent);
	fixture_stop(&f);
}

/* SEALED packets (whose bodies go in CLEAR records) between MESSAGEs (DATA),
 * sizes up to the largest SEALED packet, with a rekey every 3 records. */
static void send_mixed(Fixture *f, guint n, GPtrArray *sent)
{
	for (guint i = 0; i < n; i++) {
		gboolean sealed = i % 2 == 0;
		gsize max = sealed ? GLOW_PACKET_MAX_PAYLOAD + GLOW_E2E_OVERHEAD : 70000;
		gsize len = i >= n - 2 ? max : (i * 104729u) % (max + 1);
		uint8_t *p = g_malloc(len + 1);
		GlowPacketHeader h = { .version = 1, .type = sealed ? GLOW_PKT_SEALED : GLOW_PKT_MESSAGE,
		                       .hop_limit = 3, .payload_len = (uint32_t)len, .call_id = i };
		h.src.node = f->ida->id;
		h.dst.node = f->idb->id;
		randombytes_buf(p, len);
		if (len >= 64)
			memcpy(p + len - 64, sealed ? "CLEAR-MARKER" : "DATA-MARKER!", 12);
		while (glow_link_queued(f->a.link) > 4 * 1024 * 1024)
			g_main_context_iteration(f->ctx, TRUE);
		g_assert_true(glow_link_send(f->a.link, &h, p));
		uint8_t *whole = g_malloc(GLOW_PACKET_HEADER_LEN + len);
		glow_packet_encode_header(&h, whole);
		memcpy(whole + GLOW_PACKET_HEADER_LEN, p, len);
		g_ptr_array_add(sent, g_bytes_new_take(whole, GLOW_PACKET_HEADER_LEN + len));
		g_free(p);
	}
}

static gboolean contains(GByteArray *hay, const char *needle)
{
	return memmem(hay->data, hay->len, needle, strlen(needle)) != NULL;
}

static void test_clear_records(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GByteArray) wire = g_byte_array_new();
	cfg.rekey_records = 3;
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	f.relay.capture = wire;
	send_mixed(&f, 30, sent);
	want_packets = 30;
	g_assert_true(run_until(&f, b_has_packets, 10000));
	g_assert_false(f.a.closed || f.b.closed);
	check_received(&f, sent);
	/* Bodies of SEALED packets (end-to-end ciphertext) cross in clear;
	 * everything else is encrypted. */
	g_assert_true(contains(wire, "CLEAR-MARKER"));
	g_assert_false(contains(wire, "DATA-MARKER!"));
	f.relay.capture = NULL;
	fixture_stop(&f);
}

static void test_tampered_clear_record(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	GlowPacketHeader h = { .version = 1, .type = GLOW_PKT_SEALED, .hop_limit = 3, .payload_len = 200000 };
	g_autofree uint8_t *p = g_malloc0(200000);
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	f.relay.tamper_after = 0; /* the middle of the first chunk: inside the body */
	g_assert_true(glow_link_send(f.a.link, &h, p));
	g_assert_true(run_until(&f, b_closed, 5000));
	g_assert_nonnull(strstr(f.b.reason, "authentication"));
	g_assert_cmpuint(f.b.packets->len, ==, 0);
	fixture_stop(&f);
	(void)sent;
}

static void test_rekey(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	cfg.rekey_records = 3;
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	send_packets(&f, 200, 30000, sent);
	want_packets = 200;
	g_assert_true(run_until(&f, b_has_packets, 10000));
	check_received(&f, sent);
	g_assert_cmpuint(glow_link_stats(f.a.link)->rekeys, >=, 10);
	g_assert_false(f.a.closed || f.b.closed);
	fixture_stop(&f);
}

static void test_wrong_peer(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	GlowNodeId other;
	memset(&other, 0x42, sizeof other);
	fixture_start(&f, &cfg, &other);
	g_assert_true(run_until(&f, both_closed, 5000));
	g_assert_false(f.a.established);
	g_assert_false(f.b.established); /* the dialer never sent message 3 */
	g_assert_nonnull(strstr(f.a.reason, "different node ID"));
	fixture_stop(&f);
}

static void test_tampered_record(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	f.relay.tamper_after = 0;
	send_packets(&f, 5, 3000, sent);
	g_assert_true(run_until(&f, b_closed, 5000));
	g_assert_nonnull(strstr(f.b.reason, "authentication"));
	g_assert_cmpuint(f.b.packets->len, <, 5);
	g_assert_true(run_until(&f, a_closed, 5000)); /* told by CLOSE or the hang-up */
	fixture_stop(&f);
}

static void test_replayed_record(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	f.relay.replay = TRUE;
	send_packets(&f, 1, 500, sent);
	g_assert_true(run_until(&f, b_closed, 5000));
	g_assert_nonnull(strstr(f.b.reason, "authentication"));
	fixture_stop(&f);
}

static void test_dead_peer(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	gint64 t0;
	cfg.keepalive_ms = 200;
	cfg.dead_ms = 800;
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	/* Keepalives keep an idle link alive well past dead_ms. */
	g_assert_false(run_until(&f, b_closed, 2000));
	g_assert_cmpuint(glow_link_stats(f.a.link)->rtt_us, >, 0);
	f.relay.blackhole = TRUE;
	t0 = g_get_monotonic_time();
	g_assert_true(run_until(&f, both_closed, 5000));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 2 * 1000 * 1000);
	g_assert_nonnull(strstr(f.a.reason, "dead"));
	fixture_stop(&f);
}

/* On an idle link only the dialer pings (the peer hears the pings, so it
 * has no reason to): one ping and one pong per keepalive_ms, where a ping
 * from each side would be twice as many records. */
static void test_idle_keepalives(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	cfg.keepalive_ms = 2000;
	cfg.dead_ms = 5000;
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	/* Both sides ping once at the start, for their RTT. */
	g_assert_false(run_until(&f, b_closed, 500));
	guint64 a0 = glow_link_stats(f.a.link)->records_out, b0 = glow_link_stats(f.b.link)->records_out;
	g_assert_false(run_until(&f, b_closed, 6000));
	guint64 a = glow_link_stats(f.a.link)->records_out - a0, b = glow_link_stats(f.b.link)->records_out - b0;
	g_test_message("idle for 6 s, keepalive_ms 2000: dialer sent %" G_GUINT64_FORMAT " records, the other side %" G_GUINT64_FORMAT,
	               a, b);
	/* About three pings from the dialer and three pongs back; pinging from
	 * both sides would be six records each. */
	g_assert_cmpuint(a, >=, 2);
	g_assert_cmpuint(a, <=, 4);
	g_assert_cmpuint(b, >=, 2);
	g_assert_cmpuint(b, <=, 4);
	fixture_stop(&f);
}

static void test_handshake_timeout(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	cfg.handshake_ms = 300;
	fixture_start(&f, &cfg, NULL);
	f.relay.blackhole = TRUE;
	g_assert_true(run_until(&f, both_closed, 3000));
	g_assert_nonnull(strstr(f.b.reason, "timed out"));
	fixture_stop(&f);
}

static void test_unknown_packet_type(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	GlowPacketHeader h = { .version = 1, .type = GLOW_PKT_TYPE_MAX + 1, .hop_limit = 3 };
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	/* Authenticated, but not a packet this version knows: the stream of
	 * packets cannot be trusted past it, so the link goes. */
	g_assert_true(glow_link_send(f.a.link, &h, NULL));
	g_assert_true(run_until(&f, b_closed, 5000));
	g_assert_nonnull(strstr(f.b.reason, "unknown packet type"));
	fixture_stop(&f);
}

static void test_send_queue_bound(void)
{
	Fixture f;
	GlowLinkConfig cfg = test_config();
	GlowPacketHeader h = { .version = 1, .type = GLOW_PKT_MESSAGE, .hop_limit = 3, .payload_len = 60000 };
	static uint8_t payload[60000];
	guint sent = 0;
	cfg.sendq_max = 1024 * 1024;
	fixture_start(&f, &cfg, NULL);
	g_assert_true(run_until(&f, both_up, 5000));
	f.relay.blackhole = TRUE;
	while (sent < 1000 && glow_link_send(f.a.link, &h, payload))
		sent++;
	/* Refused once about sendq_max is queued; nothing grows past it. */
	g_assert_cmpuint(sent, <, 20);
	g_assert_cmpuint(glow_link_stats(f.a.link)->drops, ==, 1);
	g_assert_cmpuint(glow_link_queued(f.a.link), <=, cfg.sendq_max);
	fixture_stop(&f);
}

/* Raw bytes straight at a responder link. */
static void feed_responder(const uint8_t *bytes, size_t len, const char *expect_reason)
{
	GMainContext *ctx = g_main_context_new();
	uint8_t seed[32] = { 9 };
	GlowIdentity *id = glow_identity_from_seed(seed);
	GlowLinkConfig cfg = test_config();
	End e = { 0 };
	int sp[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), ==, 0);
	e.packets = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	e.link = glow_link_new(ctx, 7, glow_conn_new(&glow_unix_ops, sp[0]), FALSE, id, "r", NULL, &cfg, &cb, &e);
	g_assert_cmpint(write(sp[1], bytes, len), ==, (ssize_t)len);
	shutdown(sp[1], SHUT_WR);
	{
		gboolean expired = FALSE;
		GSource *t = glow_timer_new(ctx, 3000, timed_out, &expired);
		while (!e.closed && !expired)
			g_main_context_iteration(ctx, TRUE);
		g_source_destroy(t);
		g_source_unref(t);
	}
	g_assert_true(e.closed);
	g_assert_nonnull(strstr(e.reason, expect_reason));
	glow_link_unref(e.link);
	close(sp[1]);
	while (g_main_context_iteration(ctx, FALSE))
		;
	g_main_context_unref(ctx);
	glow_identity_free(id);
	g_ptr_array_unref(e.packets);
	g_free(e.reason);
}

static void test_garbage_frames(void)
{
	const uint8_t empty[] = { 0, 0 };
	const uint8_t shortmsg[] = { 0, 5, 1, 2, 3, 4, 5 };
	const uint8_t truncated[] = { 0x01, 0x00, 1, 2, 3 }; /* promises 256 bytes, then hangs up */
	const uint8_t oversized[] = { 0xff, 0xff, 1, 2, 3 };
	feed_responder(empty, sizeof empty, "empty frame");
	feed_responder(shortmsg, sizeof shortmsg, "handshake failed");
	feed_responder(truncated, sizeof truncated, "hung up");
	feed_responder(oversized, sizeof oversized, "oversized handshake");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(sodium_init(), >=, 0);
	g_test_add_func("/link/handshake", test_handshake);
	g_test_add_func("/link/packets-intact", test_packets_intact);
	g_test_add_func("/link/rekey", test_rekey);
	g_test_add_func("/link/clear-records", test_clear_records);
	g_test_add_func("/link/tampered-clear-record", test_tampered_clear_record);
	g_test_add_func("/link/wrong-peer", test_wrong_peer);
	g_test_add_func("/link/tampered-record", test_tampered_record);
	g_test_add_func("/link/replayed-record", test_replayed_record);
	g_test_add_func("/link/dead-peer", test_dead_peer);
	g_test_add_func("/link/idle-keepalives", test_idle_keepalives);
	g_test_add_func("/link/handshake-timeout", test_handshake_timeout);
	g_test_add_func("/link/garbage-frames", test_garbage_frames);
	g_test_add_func("/link/unknown-packet-type", test_unknown_packet_type);
	g_test_add_func("/link/send-queue-bound", test_send_queue_bound);
	return g_test_run();
}
