#include "link/link.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "glow/common.pb-c.h"
#include "link/noise.h"

enum {
	REC_DATA = 1,
	REC_PING = 2,
	REC_PONG = 3,
	REC_REKEY = 4,
	REC_CLOSE = 5,
	REC_CLEAR = 6, /* packet-stream bytes that are already end-to-end ciphertext: authenticated only */
};

/* A SEALED packet's body (after its header, index and counter) is already
 * encrypted and authenticated for its destination; the link authenticates
 * it (in order, under the record nonce) without encrypting it again. This
 * halves the crypto a relay does per byte. Small bodies stay in DATA: a
 * record of its own would cost more than it saves. */
#define CLEAR_MIN_BODY 1024
#define SEALED_CLEAR_OFFSET (GLOW_PACKET_HEADER_LEN + 12)

#define RBUF_SIZE (256 * 1024)
#define WBUF_HIGH (512 * 1024) /* encrypt ahead of the socket at most this much */
#define TICK_MS 100
#define RTT_REFRESH_US (60 * G_USEC_PER_SEC) /* a side that has not pinged for this long pings, for its RTT */
#define MAX_CLOSE_REASON 200

typedef enum { ST_HANDSHAKE, ST_ESTABLISHED, ST_CLOSED } State;

typedef struct {
	uint8_t *data;
	size_t off, len, cap; /* valid bytes are data[off .. off+len) */
} Buf;

struct GlowLink {
	gint refs;
	guint64 id;
	State state;
	gboolean initiator;
	GMainContext *ctx;
	GlowConn *conn;
	GlowFdWatch *watch;
	GSource *tick;
	GlowLinkConfig cfg;
	GlowLinkCallbacks cb;
	gpointer user;

	const GlowIdentity *self;
	char *self_name;
	GlowNodeId expect;
	gboolean has_expect;

	GlowNoiseHandshake hs;
	GlowNoiseCipher tx, rx;
	GlowNodeId peer;
	char *peer_name;
	guint32 peer_max_payload; /* from its hello: larger packets are not sent */
	GBytes *self_cert, *peer_cert; /* device certificates, opaque here (hello field 5) */

	Buf rbuf;   /* bytes from the socket */
	Buf asmb;   /* a packet being reassembled across records */
	Buf pend;   /* plaintext packet stream not yet encrypted */
	guint64 pend_in, pend_out; /* stream positions: bytes ever added to / taken from pend */
	GArray *clear;             /* guint64 pairs [start, end) of pend to send as CLEAR records, in order */
	Buf wbuf;   /* encrypted records not yet written */

	gint64 created_us, last_rx_us, last_tx_us, last_rekey_us;
	gint64 ping_sent_us;
	gint64 ping_rtt_at_us; /* when the last PONG came back */
	gint64 quiet_us;       /* idle: ping after hearing nothing this long (next_quiet) */
	guint64 ping_seq;
	gint64 busy_since_us;  /* no path info: first packet or ping (what wants an answer) sent since we last heard the peer (0: none) */
	gint64 unacked_since_us; /* path info: first write while nothing was outstanding (0: none) */
	guint64 retrans_seen, bytes_seen; /* path info at the last check: for the loss estimate */
	gboolean have_path;    /* the transport gives path info: RTT and loss come from it */
	guint64 ping_srtt_us;  /* keepalive round trips, smoothed (with path info: a floor check) */
	gint64 hs_sent_us;     /* our last handshake message: its answer gives the first RTT */
	guint64 records_since_rekey;
	GlowLinkStats stats;
};

/* --- buffers ------------------------------------------------------------------ */

static void buf_reserve(Buf *b, size_t extra)
{
	if (b->off + b->len + extra <= b->cap)
		return;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		if (b->len + extra <= b->cap)
			return;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra)
		cap *= 2;
	b->data = g_realloc(b->data, cap);
	b->cap = cap;
}

static uint8_t *buf_tail(Buf *b)
{
	return b->data + b->off + b->len;
}

static uint8_t *buf_head(Buf *b)
{
	return b->data + b->off;
}

static void buf_consume(Buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (!b->len)
		b->off = 0;
}

static void buf_append(Buf *b, const void *p, size_t n)
{
	if (!n)
		return; /* an empty record: the buffer may not even exist yet */
	buf_reserve(b, n);
	memcpy(buf_tail(b), p, n);
	b->len += n;
}

/* Gives memory back after a burst, so an idle link costs little. */
static void buf_shrink(Buf *b, size_t keep)
{
	if (b->len == 0 && b->cap > keep) {
		g_free(b->data);
		b->data = NULL;
		b->cap = b->off = 0;
	}
}

static void buf_free(Buf *b)
{
	g_free(b->data);
	memset(b, 0, sizeof *b);
}

/* --- config ------------------------------------------------------------------- */

void glow_link_config_default(GlowLinkConfig *cfg)
{
	cfg->handshake_ms = GLOW_LINK_HANDSHAKE_MS;
	cfg->keepalive_ms = GLOW_LINK_KEEPALIVE_MS;
	cfg->dead_ms = GLOW_LINK_DEAD_MS;
	cfg->probe_ms = GLOW_LINK_PROBE_MS;
	cfg->busy_dead_ms = GLOW_LINK_BUSY_DEAD_MS;
	cfg->rekey_records = GLOW_LINK_REKEY_RECORDS;
	cfg->rekey_seconds = GLOW_LINK_REKEY_SECONDS;
	cfg->sendq_max = GLOW_LINK_SENDQ_MAX;
	cfg->max_payload = GLOW_PACKET_MAX_PAYLOAD;
}

/* --- output ------------------------------------------------------------------- */

static void want_write(GlowLink *l)
{
	if (l->watch)
		glow_fd_watch_set(l->watch, G_IO_IN | G_IO_OUT);
}

static void put_u16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Seals one record straight into wbuf: encrypted, or (clear) the body in
 * clear followed by a tag over type || body, the AEAD of an empty
 * plaintext with that as associated data (REC_CLEAR). */
static gboolean seal_any(GlowLink *l, uint8_t type, const uint8_t *plain, size_t len, gboolean clear)
{
	size_t wire = 1 + len + GLOW_NOISE_TAGLEN;
	uint8_t *p;
	int rc;

	g_assert(wire <= GLOW_LINK_MAX_RECORD);
	buf_reserve(&l->wbuf, 2 + wire);
	p = buf_tail(&l->wbuf);
	put_u16(p, wire);
	p[2] = type;
	if (clear) {
		if (len)
			memcpy(p + 3, plain, len);
		rc = glow_noise_cipher_encrypt(&l->tx, &p[2], 1 + len, p, 0, p + 3 + len);
	} else {
		rc = glow_noise_cipher_encrypt(&l->tx, &p[2], 1, plain, len, p + 3);
	}
	if (rc < 0)
		return FALSE; /* nonce space exhausted: cannot happen before 2^64 records */
	l->wbuf.len += 2 + wire;
	l->stats.records_out++;
	l->records_since_rekey++;
	return TRUE;
}

static gboolean seal_record(GlowLink *l, uint8_t type, const uint8_t *plain, size_t len)
{
	return seal_any(l, type, plain, len, FALSE);
}

static void maybe_rekey(GlowLink *l)
{
	gint64 now = glow_now_us();
	if (l->records_since_rekey < l->cfg.rekey_records &&
	    now - l->last_rekey_us < (gint64)l->cfg.rekey_seconds * G_USEC_PER_SEC)
		return;
	/* The REKEY record itself goes under the old key; the peer switches after it. */
	seal_record(l, REC_REKEY, NULL, 0);
	glow_noise_cipher_rekey(&l->tx);
	l->records_since_rekey = 0;
	l->last_rekey_us = now;
	l->stats.rekeys++;
}

static void encrypt_pending(GlowLink *l)
{
	while (l->pend.len && l->wbuf.len < WBUF_HIGH) {
		size_t n = MIN(l->pend.len, (size_t)GLOW_LINK_MAX_RECORD_PLAIN);
		gboolean clear = FALSE;
		gboolean ok;
		while (l->clear->len && g_array_index(l->clear, guint64, 1) <= l->pend_out)
			g_array_remove_range(l->clear, 0, 2);
		if (l->clear->len) {
			guint64 start = g_array_index(l->clear, guint64, 0), end = g_array_index(l->clear, guint64, 1);
			if (start <= l->pend_out) {
				clear = TRUE;
				n = (size_t)MIN((guint64)n, end - l->pend_out);
			} else {
				n = (size_t)MIN((guint64)n, start - l->pend_out);
			}
		}
		ok = seal_any(l, clear ? REC_CLEAR : REC_DATA, buf_head(&l->pend), n, clear);
		if (!ok)
			return;
		buf_consume(&l->pend, n);
		l->pend_out += n;
		maybe_rekey(l);
	}
}

static gboolean write_out(GlowLink *l)
{
	while (l->wbuf.len) {
		struct iovec iov = { buf_head(&l->wbuf), l->wbuf.len };
		ssize_t n = l->conn->ops->writev(l->conn, &iov, 1);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return TRUE;
			glow_link_close(l, g_strerror(errno));
			return FALSE;
		}
		buf_consume(&l->wbuf, (size_t)n);
		l->stats.bytes_out += (guint64)n;
		l->last_tx_us = glow_now_us();
		if (!l->unacked_since_us && l->state == ST_ESTABLISHED)
			l->unacked_since_us = l->last_tx_us;
	}
	return TRUE;
}

static void flush(GlowLink *l)
{
	do {
		if (l->state == ST_ESTABLISHED)
			encrypt_pending(l);
		if (!write_out(l))
			return;
	} while (l->wbuf.len == 0 && l->pend.len && l->state == ST_ESTABLISHED);
	if (l->wbuf.len || l->pend.len) {
		want_write(l);
	} else {
		if (l->watch)
			glow_fd_watch_set(l->watch, G_IO_IN);
		buf_shrink(&l->wbuf, 64 * 1024);
		buf_shrink(&l->pend, 64 * 1024);
	}
}

static void send_frame(GlowLink *l, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2];
	put_u16(hdr, len);
	buf_append(&l->wbuf, hdr, 2);
	buf_append(&l->wbuf, msg, len);
	want_write(l);
}

gboolean glow_link_send(GlowLink *l, const GlowPacketHeader *h, const uint8_t *payload)
{
	size_t total = GLOW_PACKET_HEADER_LEN + h->payload_len;

	if (l->state != ST_ESTABLISHED || h->payload_len > glow_packet_max_payload(h->type, l->peer_max_payload))
		return FALSE;
	/* Stale routes cost more than a full queue, and routing output is
	 * bounded (at most a whole table per dump): it may go over, by as much
	 * as the largest table. */
	gsize limit = l->cfg.sendq_max + (h->type == GLOW_PKT_ROUTING ? GLOW_LINK_ROUTING_RESERVE : 0);
	if (l->pend.len + l->wbuf.len + total > limit) {
		l->stats.drops++;
		return FALSE;
	}
	l->stats.packets_out++;
	if (!l->busy_since_us)
		l->busy_since_us = glow_now_us();
	buf_reserve(&l->pend, total);
	glow_packet_encode_header(h, buf_tail(&l->pend));
	if (h->payload_len)
		memcpy(buf_tail(&l->pend) + GLOW_PACKET_HEADER_LEN, payload, h->payload_len);
	if (h->type == GLOW_PKT_SEALED && total >= SEALED_CLEAR_OFFSET + CLEAR_MIN_BODY) {
		guint64 span[2] = { l->pend_in + SEALED_CLEAR_OFFSET, l->pend_in + total };
		g_array_append_vals(l->clear, span, 2);
	}
	/* Sealed and written from the next loop iteration, so that everything
	 * produced in this one shares records and syscalls. */
	l->pend.len += total;
	l->pend_in += total;
	want_write(l);
	return TRUE;
}

/* --- liveness and path quality ---------------------------------------------------- */

static void rtt_sample(GlowLink *l, guint64 rtt)
{
	l->stats.rtt_us = rtt;
	/* RFC 6298's smoothing: an eighth of each new sample. */
	l->stats.srtt_us = l->stats.srtt_us ? (l->stats.srtt_us * 7 + rtt) / 8 : rtt;
}

/* Loss of keepalives, in thousandths, smoothed the same way: a ping that
 * is replaced before its pong arrived counts as lost. */
static void loss_sample(GlowLink *l, gboolean lost)
{
	l->stats.loss_permille = (l->stats.loss_permille * 7 + (lost ? 1000 : 0)) / 8;
}

static void send_ping(GlowLink *l, gint64 now);

/* How long an idle side waits, having heard nothing, before it pings; drawn
 * anew after each ping. The dialer's is always the shorter, from [0.85,
 * 0.9) of keepalive_ms; the other side's is from [0.95, 1]. So on an idle
 * link only the dialer pings, and each ping and its pong show both sides
 * that the other is alive: three TCP segments (ping, pong with the ACK,
 * the ACK of the pong) per exchange, the fewest that can. When else the
 * other side pings: check_liveness. */
static void next_quiet(GlowLink *l)
{
	gint64 ka = (gint64)l->cfg.keepalive_ms * 1000, twentieth = MAX(ka / 20, 1);
	gint64 base = l->initiator ? ka - 3 * twentieth : ka - twentieth;
	l->quiet_us = base + (gint64)randombytes_uniform((uint32_t)MIN(twentieth, (gint64)G_MAXUINT32));
}

/* --- handshake ---------------------------------------------------------------- */

static gboolean write_hello(GlowLink *l)
{
	Glow__LinkHello hello = GLOW__LINK_HELLO__INIT;
	uint8_t payload[GLOW_LINK_MAX_HELLO];
	uint8_t msg[GLOW_LINK_MAX_HELLO + 256];
	size_t plen;
	long n;

	hello.identity_key.data = (uint8_t *)l->self->id.b;
	hello.identity_key.len = 32;
	hello.signature.data = (uint8_t *)l->self->noise_sig;
	hello.signature.len = 64;
	hello.name = l->self_name;
	hello.max_packet = l->cfg.max_payload;
	if (l->self_cert) {
		hello.device_cert.data = (uint8_t *)g_bytes_get_data(l->self_cert, &hello.device_cert.len);
	}
	if (glow__link_hello__get_packed_size(&hello) > sizeof payload)
		return FALSE;
	plen = glow__link_hello__pack(&hello, payload);
	n = glow_noise_write_message(&l->hs, payload, plen, msg, sizeof msg);
	if (n < 0)
		return FALSE;
	send_frame(l, msg, (size_t)n);
	l->hs_sent_us = glow_now_us();
	return TRUE;
}

/* Checks the peer's hello: its identity must have signed the Noise static
 * key that Noise just authenticated. Returns an error string or NULL. */
static const char *check_hello(GlowLink *l, const uint8_t *payload, size_t len)
{
	Glow__LinkHello *hello = glow__link_hello__unpack(NULL, len, payload);
	const uint8_t *rs = glow_noise_remote_static(&l->hs);
	const char *err = NULL;

	if (!hello)
		return "malformed handshake payload";
	if (hello->identity_key.len != 32 || hello->signature.len != 64 || !rs) {
		err = "handshake payload lacks an identity";
		goto out;
	}
	if (!glow_identity_verify_noise_key(hello->identity_key.data, hello->signature.data, rs)) {
		err = "peer's identity signature does not match its Noise key";
		goto out;
	}
	memcpy(l->peer.b, hello->identity_key.data, 32);
	if (glow_node_id_equal(&l->peer, &l->self->id)) {
		err = "connected to itself";
		goto out;
	}
	if (l->has_expect && !glow_node_id_equal(&l->peer, &l->expect)) {
		err = "peer proved a different node ID than the one dialed";
		goto out;
	}
	l->peer_max_payload = hello->max_packet ? MIN(hello->max_packet, GLOW_PACKET_MAX_PAYLOAD)
	                                        : GLOW_PACKET_MAX_PAYLOAD;
	if (l->peer_cert)
		g_bytes_unref(l->peer_cert);
	l->peer_cert = hello->device_cert.len ? g_bytes_new(hello->device_cert.data, hello->device_cert.len) : NULL;
	g_free(l->peer_name);
	l->peer_name = g_utf8_make_valid(hello->name ? hello->name : "", MIN(strlen(hello->name ? hello->name : ""), 64));
out:
	glow__link_hello__free_unpacked(hello, NULL);
	return err;
}

static void become_established(GlowLink *l)
{
	GlowNoiseCipher c1, c2;
	glow_noise_split(&l->hs, &c1, &c2, NULL, NULL);
	l->tx = l->initiator ? c1 : c2;
	l->rx = l->initiator ? c2 : c1;
	sodium_memzero(&c1, sizeof c1);
	sodium_memzero(&c2, sizeof c2);
	glow_noise_handshake_clear(&l->hs);
	l->state = ST_ESTABLISHED;
	l->stats.established_us = l->last_rekey_us = glow_now_us();
	if (l->cb.established)
		l->cb.established(l, l->user);
}

static void handle_handshake(GlowLink *l, const uint8_t *msg, size_t len)
{
	uint8_t payload[GLOW_LINK_MAX_HELLO];
	long n = glow_noise_read_message(&l->hs, msg, len, payload, sizeof payload);
	const char *err;

	if (n < 0) {
		glow_link_close(l, "handshake failed (bad or replayed Noise message)");
		return;
	}
	/* Each side's message was answered by the other's next one: the first
	 * RTT sample, so a route's cost is known as soon as the link is up. */
	if (l->hs_sent_us)
		rtt_sample(l, (guint64)(glow_now_us() - l->hs_sent_us));
	if (!l->initiator && l->hs.msg_index == 1) {
		/* msg 1 (-> e) read; answer with msg 2 carrying our hello */
		if (!write_hello(l))
			glow_link_close(l, "handshake: cannot write message 2");
		return;
	}
	err = check_hello(l, payload, (size_t)n);
	if (err) {
		glow_link_close(l, err);
		return;
	}
	if (l->initiator && !write_hello(l)) {
		glow_link_close(l, "handshake: cannot write message 3");
		return;
	}
	if (glow_noise_handshake_done(&l->hs))
		become_established(l);
	else
		glow_link_close(l, "handshake: unexpected state");
}

/* --- input -------------------------------------------------------------------- */

static void deliver_packets(GlowLink *l, Buf *b)
{
	while (l->state == ST_ESTABLISHED && b->len >= GLOW_PACKET_HEADER_LEN) {
		GlowPacketHeader h;
		GlowPacketDecode d = glow_packet_decode_header(buf_head(b), b->len, l->cfg.max_payload, &h);
		if (d != GLOW_PKT_DECODE_OK) {
			g_autofree char *why = g_strdup_printf("protocol error: %s", glow_packet_decode_strerror(d));
			glow_link_close(l, why);
			return;
		}
		size_t total = GLOW_PACKET_HEADER_LEN + h.payload_len;
		if (b->len < total)
			return;
		l->stats.packets_in++;
		if (l->cb.packet)
			l->cb.packet(l, &h, buf_head(b) + GLOW_PACKET_HEADER_LEN, l->user);
		buf_consume(b, total);
	}
}

static void send_control(GlowLink *l, uint8_t type, const void *p, size_t n)
{
	/* Queued data is sealed first so that records keep their order. */
	encrypt_pending(l);
	seal_record(l, type, p, n);
	want_write(l);
}

static void handle_record(GlowLink *l, uint8_t *rec, size_t len)
{
	uint8_t type = rec[0];
	uint8_t *ct = rec + 1;
	size_t ctlen = len - 1;

	uint8_t *out = ct;

	if (ctlen < GLOW_NOISE_TAGLEN) {
		glow_link_close(l, "protocol error: record shorter than its tag");
		return;
	}
	if (type == REC_CLEAR) {
		size_t blen = ctlen - GLOW_NOISE_TAGLEN;
		uint8_t none[1];
		if (glow_noise_cipher_decrypt(&l->rx, rec, 1 + blen, ct + blen, GLOW_NOISE_TAGLEN, none) < 0) {
			glow_link_close(l, "record failed authentication (tampered, replayed or out of order)");
			return;
		}
		l->stats.records_in++;
		buf_append(&l->asmb, ct, blen);
		deliver_packets(l, &l->asmb);
		buf_shrink(&l->asmb, 128 * 1024);
		return;
	}
	if (type == REC_DATA) {
		/* Decrypt straight into the reassembly buffer: one copy fewer. */
		buf_reserve(&l->asmb, ctlen);
		out = buf_tail(&l->asmb);
	}
	if (glow_noise_cipher_decrypt(&l->rx, &rec[0], 1, ct, ctlen, out) < 0) {
		glow_link_close(l, "record failed authentication (tampered, replayed or out of order)");
		return;
	}
	l->stats.records_in++;
	size_t plen = ctlen - GLOW_NOISE_TAGLEN;
	switch (type) {
	case REC_DATA:
		l->asmb.len += plen;
		deliver_packets(l, &l->asmb);
		buf_shrink(&l->asmb, 128 * 1024);
		break;
	case REC_PING:
		/* A peer that pings but never reads must not grow our buffers:
		 * with the queue full, pongs are skipped (its dead timer is its problem). */
		if (plen == 8 && l->pend.len + l->wbuf.len < l->cfg.sendq_max)
			send_control(l, REC_PONG, ct, 8);
		break;
	case REC_PONG:
		if (plen == 8 && l->ping_sent_us) {
			guint64 seq;
			memcpy(&seq, ct, 8);
			if (seq == l->ping_seq) {
				guint64 rtt = (guint64)(glow_now_us() - l->ping_sent_us);
				l->ping_srtt_us = l->ping_srtt_us ? (l->ping_srtt_us * 7 + rtt) / 8 : rtt;
				l->ping_rtt_at_us = glow_now_us();
				if (!l->have_path) {
					rtt_sample(l, rtt);
					loss_sample(l, FALSE);
				}
				l->ping_sent_us = 0;
			}
		}
		break;
	case REC_REKEY:
		glow_noise_cipher_rekey(&l->rx);
		break;
	case REC_CLOSE: {
		g_autofree char *why = g_strdup_printf("peer closed the link: %.*s", (int)MIN(plen, MAX_CLOSE_REASON),
		                                       (const char *)ct);
		g_autofree char *valid = g_utf8_make_valid(why, -1);
		glow_link_close(l, valid);
		break;
	}
	default:
		break; /* authenticated but unknown: a newer peer's record, ignored */
	}
}

static void process_input(GlowLink *l)
{
	while (l->state != ST_CLOSED && l->rbuf.len >= 2) {
		uint8_t *p = buf_head(&l->rbuf);
		size_t len = (size_t)p[0] << 8 | p[1];
		if (len == 0) {
			glow_link_close(l, "protocol error: empty frame");
			return;
		}
		if (l->state == ST_HANDSHAKE && len > GLOW_LINK_MAX_HELLO + 128) {
			/* No honest handshake message is this big: do not wait for it. */
			glow_link_close(l, "protocol error: oversized handshake message");
			return;
		}
		if (l->rbuf.len < 2 + len)
			return;
		if (l->state == ST_HANDSHAKE)
			handle_handshake(l, p + 2, len);
		else
			handle_record(l, p + 2, len);
		buf_consume(&l->rbuf, 2 + len);
	}
}

static void read_in(GlowLink *l)
{
	/* A few reads per wakeup keep one busy link from starving the others. */
	for (int i = 0; i < 4 && l->state != ST_CLOSED; i++) {
		buf_reserve(&l->rbuf, RBUF_SIZE / 2);
		size_t room = l->rbuf.cap - l->rbuf.off - l->rbuf.len;
		ssize_t n = l->conn->ops->read(l->conn, buf_tail(&l->rbuf), room);
		if (n == 0) {
			glow_link_close(l, l->state == ST_HANDSHAKE ? "peer hung up during the handshake"
			                                             : "peer closed the connection");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				glow_link_close(l, g_strerror(errno));
			return;
		}
		l->rbuf.len += (size_t)n;
		l->stats.bytes_in += (guint64)n;
		l->last_rx_us = glow_now_us();
		l->busy_since_us = 0;
		process_input(l);
		if ((size_t)n < room)
			return;
	}
}

static gboolean on_io(int fd, GIOCondition cond, gpointer data)
{
	GlowLink *l = data;
	(void)fd;
	glow_link_ref(l);
	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		read_in(l);
	if (l->state != ST_CLOSED)
		flush(l);
	glow_link_unref(l);
	return TRUE;
}

static void send_ping(GlowLink *l, gint64 now)
{
	if (l->ping_sent_us && !l->have_path)
		loss_sample(l, TRUE);
	l->ping_seq++;
	l->ping_sent_us = now;
	if (!l->busy_since_us)
		l->busy_since_us = now;
	send_control(l, REC_PING, &l->ping_seq, 8);
	flush(l);
}

static void dead(GlowLink *l, const char *fmt, guint ms)
{
	g_autofree char *why = g_strdup_printf(fmt, ms);
	glow_link_close(l, why);
}

/* With the transport's view of the path (TCP): the peer is gone when it
 * has acknowledged nothing for busy_dead_ms (or two retransmission
 * timeouts, on a long path) while our bytes are outstanding. The timeout is
 * RFC 6298's srtt + 4 rttvar, not the kernel's current one, which doubles
 * with every retransmission and would put the verdict off for ever. Slow paths and
 * deep queues are fine as long as acknowledgements come. The kernel's RTT
 * and retransmissions also give the route cost its inputs. */
static void check_path(GlowLink *l, const GlowPathInfo *pi, gint64 now)
{
	guint rto_ms = MAX(200u, (pi->rtt_us + 4 * pi->rttvar_us) / 1000);
	guint limit = MAX(l->cfg.busy_dead_ms, 2 * rto_ms);
	l->have_path = TRUE;
	if (pi->rtt_us) {
		/* The kernel's RTT (already smoothed) does not include our queues,
		 * but on a link that carries almost nothing delayed ACKs inflate it
		 * (10-16 ms on a 0.05 ms veth); keepalives show the real figure. */
		guint64 rtt = pi->rtt_us;
		if (l->ping_srtt_us && l->ping_srtt_us < rtt)
			rtt = l->ping_srtt_us;
		l->stats.rtt_us = rtt;
		l->stats.srtt_us = rtt;
	}
	if (pi->mss && l->stats.bytes_out - l->bytes_seen >= 64u * pi->mss) {
		/* Loss: the share of segments sent again since the last look. */
		guint64 segs = (l->stats.bytes_out - l->bytes_seen) / pi->mss;
		guint64 re = pi->retransmits - MIN(l->retrans_seen, pi->retransmits);
		l->stats.loss_permille = (guint)MIN(1000u, (l->stats.loss_permille * 7 + MIN(1000 * re / segs, 1000u)) / 8);
		l->retrans_seen = pi->retransmits;
		l->bytes_seen = l->stats.bytes_out;
	}
	if (pi->probes >= 2 && pi->last_ack_ms > limit) {
		/* Bytes that cannot leave, probed twice without an answer. */
		dead(l, "peer answered no probe for %u ms: link dead", pi->last_ack_ms);
		return;
	}
	if (!pi->outstanding) {
		l->unacked_since_us = 0;
		return;
	}
	if (!l->unacked_since_us)
		l->unacked_since_us = now;
	guint stalled = (guint)MIN((gint64)pi->last_ack_ms, (now - l->unacked_since_us) / 1000);
	if (stalled > limit)
		dead(l, "peer acknowledged nothing for %u ms while our data was outstanding: link dead", stalled);
}

/* Without it: a link that carries traffic probes as soon as the peer has
 * been silent for probe_ms since we sent to it, and is dead after
 * busy_dead_ms (or 4 x its smoothed RTT). */
static void check_busy(GlowLink *l, gint64 now)
{
	gint64 busy = l->busy_since_us ? now - l->busy_since_us : 0;
	gint64 since_ping = l->ping_sent_us ? now - l->ping_sent_us : G_MAXINT64;
	gint64 limit = MAX((gint64)l->cfg.busy_dead_ms * 1000, 4 * (gint64)l->stats.srtt_us);

	/* Queued but not yet written counts as sending: the socket may be full. */
	if (!l->busy_since_us && (l->pend.len || l->wbuf.len))
		l->busy_since_us = now;
	if (busy > limit) {
		dead(l, "peer silent for %u ms while we sent to it: link dead", (guint)(busy / 1000));
		return;
	}
	if (busy > (gint64)l->cfg.probe_ms * 1000 && since_ping > (gint64)l->cfg.probe_ms * 1000)
		send_ping(l, now);
}

/* Two clocks tell a dead peer. Idle: a ping after a little less than
 * keepalive_ms (next_quiet) without hearing the peer, dead after dead_ms
 * of silence. Busy: fast, from the transport's acknowledgements where it
 * has them (check_path), else from probes (check_busy). A path in
 * use fails over within about busy_dead_ms; an idle one costs one ping and
 * pong per keepalive_ms (docs/routing.md "Link liveness"). */
static void check_liveness(GlowLink *l, gint64 now)
{
	gint64 silent = now - l->last_rx_us;
	gint64 since_ping = l->ping_sent_us ? now - l->ping_sent_us : G_MAXINT64;
	GlowPathInfo pi = { 0 };

	if (silent > (gint64)l->cfg.dead_ms * 1000) {
		dead(l, "peer silent for %u ms: link dead", l->cfg.dead_ms);
		return;
	}
	if (l->conn->ops->path_info && l->conn->ops->path_info(l->conn, &pi))
		check_path(l, &pi, now);
	else
		check_busy(l, now);
	/* Ping when we have heard nothing for a while, or sent nothing: on an
	 * idle link both come due together (each side sends once per exchange),
	 * but under one-way bulk traffic the receiving side hears all the time
	 * and must still speak, over the empty direction, because the sender's
	 * own ping and the pong it waits for queue behind megabytes of data. */
	gint64 quiet_tx = now - l->last_tx_us;
	/* The side that does not dial hears pings but sends none, and its
	 * kernel's RTT includes the dialer's delayed ACKs; route costs need
	 * its own keepalive RTT, so it pings once a minute anyway. */
	gboolean rtt_stale = now - l->ping_rtt_at_us >= RTT_REFRESH_US;
	if (l->state != ST_ESTABLISHED || (silent < l->quiet_us && quiet_tx < l->quiet_us && !rtt_stale) ||
	    since_ping < l->quiet_us)
		return;
	send_ping(l, now);
	next_quiet(l);
}

static gboolean on_tick(gpointer data)
{
	GlowLink *l = data;
	gint64 now = glow_now_us();

	glow_link_ref(l);
	if (l->state == ST_HANDSHAKE) {
		if (now - l->created_us > (gint64)l->cfg.handshake_ms * 1000)
			glow_link_close(l, "handshake timed out");
	} else if (l->state == ST_ESTABLISHED) {
		check_liveness(l, now);
		if (l->state == ST_ESTABLISHED && !l->pend.len && !l->wbuf.len)
			maybe_rekey(l), flush(l);
	}
	gboolean keep = l->state != ST_CLOSED;
	glow_link_unref(l);
	return keep;
}

/* --- lifecycle ---------------------------------------------------------------- */

GlowLink *glow_link_new(GMainContext *ctx, guint64 id, GlowConn *conn, gboolean initiator,
                        const GlowIdentity *self, const char *self_name, const GlowNodeId *expect,
                        const GlowLinkConfig *cfg, const GlowLinkCallbacks *cb, gpointer user)
{
	GlowLink *l = g_new0(GlowLink, 1);
	GlowNoiseConfig nc = {
		.protocol_name = GLOW_LINK_NOISE_PROTOCOL,
		.initiator = initiator,
		.prologue = (const uint8_t *)GLOW_LINK_PROLOGUE,
		.prologue_len = strlen(GLOW_LINK_PROLOGUE),
		.s_priv = self->noise_priv,
	};

	l->refs = 1;
	l->id = id;
	l->ctx = ctx;
	l->conn = conn;
	l->self = self;
	l->self_name = g_strdup(self_name ? self_name : "");
	l->peer_name = g_strdup("");
	if (expect) {
		l->expect = *expect;
		l->has_expect = TRUE;
	}
	l->cfg = *cfg;
	l->cb = *cb;
	l->user = user;
	l->created_us = l->last_rx_us = l->last_tx_us = glow_now_us();
	l->initiator = initiator;
	next_quiet(l);
	l->clear = g_array_new(FALSE, FALSE, sizeof(guint64));
	l->state = ST_HANDSHAKE;
	if (glow_noise_handshake_init(&l->hs, &nc) != 0)
		g_error("link: cannot set up %s", GLOW_LINK_NOISE_PROTOCOL); /* a build defect */
	l->watch = glow_fd_watch_new(ctx, conn->fd, G_IO_IN, on_io, l);
	l->tick = glow_timer_new(ctx, TICK_MS, on_tick, l);
	if (initiator) {
		uint8_t msg[64];
		long n = glow_noise_write_message(&l->hs, NULL, 0, msg, sizeof msg);
		g_assert(n > 0);
		send_frame(l, msg, (size_t)n);
		l->hs_sent_us = glow_now_us();
	}
	return l;
}

GlowLink *glow_link_ref(GlowLink *l)
{
	g_atomic_int_inc(&l->refs);
	return l;
}

static void stop_io(GlowLink *l)
{
	if (l->watch) {
		glow_fd_watch_free(l->watch);
		l->watch = NULL;
	}
	if (l->tick) {
		g_source_destroy(l->tick);
		g_source_unref(l->tick);
		l->tick = NULL;
	}
	glow_conn_free(l->conn);
	l->conn = NULL;
}

void glow_link_unref(GlowLink *l)
{
	if (!g_atomic_int_dec_and_test(&l->refs))
		return;
	stop_io(l);
	glow_noise_handshake_clear(&l->hs);
	glow_noise_cipher_clear(&l->tx);
	glow_noise_cipher_clear(&l->rx);
	buf_free(&l->rbuf);
	buf_free(&l->asmb);
	buf_free(&l->pend);
	buf_free(&l->wbuf);
	g_array_unref(l->clear);
	g_free(l->self_name);
	g_free(l->peer_name);
	if (l->self_cert)
		g_bytes_unref(l->self_cert);
	if (l->peer_cert)
		g_bytes_unref(l->peer_cert);
	g_free(l);
}

void glow_link_close(GlowLink *l, const char *reason)
{
	if (l->state == ST_CLOSED)
		return;
	glow_link_ref(l);
	if (l->state == ST_ESTABLISHED && l->conn) {
		/* Best effort: tell the peer why, so it need not wait for the dead timer. */
		size_t n = MIN(strlen(reason), MAX_CLOSE_REASON);
		l->pend_out += l->pend.len;
		l->pend.len = 0;
		l->pend.off = 0;
		g_array_set_size(l->clear, 0);
		seal_record(l, REC_CLOSE, (const uint8_t *)reason, n);
		struct iovec iov = { buf_head(&l->wbuf), l->wbuf.len };
		(void)l->conn->ops->writev(l->conn, &iov, 1);
	}
	l->state = ST_CLOSED;
	/* I/O stops first (no more callbacks), the fd after `closed`, which may
	 * still want the connection's addresses for its log. */
	if (l->watch) {
		glow_fd_watch_free(l->watch);
		l->watch = NULL;
	}
	if (l->cb.closed)
		l->cb.closed(l, reason, l->user);
	stop_io(l);
	glow_link_unref(l);
}

guint64 glow_link_id(const GlowLink *l) { return l->id; }
gboolean glow_link_is_established(const GlowLink *l) { return l->state == ST_ESTABLISHED; }
gboolean glow_link_is_initiator(const GlowLink *l) { return l->initiator; }
const GlowNodeId *glow_link_peer(const GlowLink *l) { return &l->peer; }
const char *glow_link_peer_name(const GlowLink *l) { return l->peer_name; }
GBytes *glow_link_peer_cert(const GlowLink *l) { return l->peer_cert; }

void glow_link_set_timers(GlowLink *l, const GlowLinkConfig *cfg)
{
	l->cfg.handshake_ms = cfg->handshake_ms;
	l->cfg.keepalive_ms = cfg->keepalive_ms;
	l->cfg.dead_ms = cfg->dead_ms;
	l->cfg.probe_ms = cfg->probe_ms;
	l->cfg.busy_dead_ms = cfg->busy_dead_ms;
	l->cfg.rekey_records = cfg->rekey_records;
	l->cfg.rekey_seconds = cfg->rekey_seconds;
	next_quiet(l);
}

void glow_link_set_local_cert(GlowLink *l, GBytes *cert)
{
	if (l->self_cert)
		g_bytes_unref(l->self_cert);
	l->self_cert = cert ? g_bytes_ref(cert) : NULL;
}
const GlowConn *glow_link_conn(const GlowLink *l) { return l->conn; }
const GlowLinkStats *glow_link_stats(const GlowLink *l) { return &l->stats; }
gsize glow_link_queued(const GlowLink *l) { return l->pend.len + l->wbuf.len; }
