/* fuzz-link — a real responder GlowLink fed the input by its peer.
 *
 * The link runs on one end of a socketpair in a private GMainContext; the
 * harness is the peer on the other end. It writes its bytes, then shuts its
 * side down and iterates the context until the link closes (it must: it
 * sees EOF at the latest). Packets the link delivers are echoed back with
 * glow_link_send, so the send path runs too. The first input byte picks:
 *
 *  even: raw — the rest of the input is the byte stream, unchanged: u16
 *        frames, handshake messages then records (docs/firefly.md "Link
 *        layer"). This is what an unauthenticated stranger can send.
 *        libsodium's RNG is replaced by a deterministic one reset for every
 *        input, so the link's keys are the same each run and the seeds in
 *        corpus/fuzz-link/ hold complete valid sessions to mutate. RNG
 *        draws: 0 the identity's Noise static key (glow_identity_from_seed),
 *        1 the link's ephemeral (message 2).
 *  odd:  sealed — an authenticated, hostile peer. The harness runs a real
 *        Noise initiator against the link (its LinkHello announces the
 *        u32 max_packet taken from input bytes 1-4), then reads chunks
 *        u8 type | u16 len | plaintext and sends each as a record of that
 *        type sealed with the session key (rekeying after REKEY), so the
 *        fuzzer controls what the link decrypts: packet streams split
 *        across records any way, PING, REKEY, CLOSE, unknown types. Type
 *        0xff writes the plaintext raw instead (bad frames after the
 *        handshake). Everything the link sends back must decrypt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "link/link.h"
#include "link/noise.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINK_ID_SEED 0xb2 /* the link identity's Ed25519 seed byte */
#define MAX_ROUNDS 100000
#define CHUNK_RAW 0xff

enum { REC_DATA = 1, REC_PING = 2, REC_PONG = 3, REC_REKEY = 4, REC_CLOSE = 5, REC_CLEAR = 6 };

static GlowIdentity *self;
static FuzzPeer peer; /* the harness, in sealed mode */

typedef struct {
	GMainContext *ctx;
	GlowLink *link;
	int fd;             /* the harness's end */
	gboolean closed;
	gboolean established;
	guint64 packets;
	char *reason;
	GByteArray *in;     /* bytes from the link not yet parsed */
	GlowNoiseCipher *rx; /* sealed mode: decrypts what the link sends */
	guint64 records_back;
} Session;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32];
	(void)argc;
	(void)argv;
	fuzz_init();
	memset(seed, LINK_ID_SEED, sizeof seed);
	fuzz_rng_reset(0);
	self = glow_identity_from_seed(seed);
	fuzz_peer_make(&peer, 0xa1);
	return 0;
}

static void on_established(GlowLink *l, gpointer user)
{
	Session *s = user;
	FUZZ_CHECK(!s->closed && glow_link_is_established(l));
	s->established = TRUE;
}

static void on_packet(GlowLink *l, const GlowPacketHeader *h, const uint8_t *payload, gpointer user)
{
	Session *s = user;
	FUZZ_CHECK(!s->closed && s->established);
	FUZZ_CHECK(h->payload_len <= GLOW_PACKET_MAX_PAYLOAD);
	/* read every payload byte: ASan checks they are inside the buffer */
	volatile uint8_t sum = 0;
	for (uint32_t i = 0; i < h->payload_len; i++)
		sum ^= payload[i];
	(void)sum;
	s->packets++;
	(void)glow_link_send(l, h, payload);
}

static void on_closed(GlowLink *l, const char *reason, gpointer user)
{
	Session *s = user;
	(void)l;
	FUZZ_CHECK(!s->closed); /* exactly once */
	FUZZ_CHECK(reason != NULL);
	s->closed = TRUE;
	if (fuzz_verbose())
		s->reason = g_strdup(reason);
}

/* Reads what the link sent; in sealed mode every record must decrypt. */
static void drain(Session *s)
{
	uint8_t buf[65536];
	ssize_t n;

	while ((n = read(s->fd, buf, sizeof buf)) > 0) {
		if (s->rx != NULL)
			g_byte_array_append(s->in, buf, (guint)n);
	}
	if (s->rx == NULL)
		return;
	guint off = 0;
	while (s->in->len - off >= 2) {
		const uint8_t *p = s->in->data + off;
		size_t len = (size_t)p[0] << 8 | p[1];
		if (s->in->len - off < 2 + len)
			break;
		FUZZ_CHECK(len >= 1 + GLOW_NOISE_TAGLEN);
		uint8_t *rec = fuzz_dup(p + 2, len);
		if (rec[0] == REC_CLEAR) {
			/* body in clear, tag over type || body */
			uint8_t none[1];
			FUZZ_CHECK(glow_noise_cipher_decrypt(s->rx, rec, len - GLOW_NOISE_TAGLEN, rec + len - GLOW_NOISE_TAGLEN,
			                                     GLOW_NOISE_TAGLEN, none) == 0);
		} else {
			FUZZ_CHECK(glow_noise_cipher_decrypt(s->rx, &rec[0], 1, rec + 1, len - 1, rec + 1) == 0);
		}
		if (rec[0] == REC_REKEY)
			glow_noise_cipher_rekey(s->rx);
		else if (rec[0] == REC_PONG)
			FUZZ_CHECK(len - 1 - GLOW_NOISE_TAGLEN == 8);
		free(rec);
		s->records_back++;
		off += (guint)(2 + len);
	}
	g_byte_array_remove_range(s->in, 0, off);
}

static void session_start(Session *s)
{
	static const GlowLinkCallbacks cb = { on_established, on_packet, on_closed };
	GlowLinkConfig cfg;
	int sv[2];

	memset(s, 0, sizeof *s);
	fuzz_rng_reset(1); /* the link's ephemeral is draw 1, every run */
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	FUZZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	glow_link_config_default(&cfg);
	s->fd = sv[1];
	s->in = g_byte_array_new();
	s->ctx = g_main_context_new();
	s->link = glow_link_new(s->ctx, 1, glow_conn_new(&glow_unix_ops, sv[0]), FALSE, self, "fuzz", NULL,
	                        &cfg, &cb, s);
}

/* Writes out[len] to the link, then EOF, running the link until it closes. */
static void session_pump(Session *s, const uint8_t *out, size_t len)
{
	size_t written = 0;
	gboolean shut = FALSE;

	for (int round = 0; !s->closed; round++) {
		if (round == MAX_ROUNDS) {
			fprintf(stderr, "fuzz-link: the link neither consumed the input nor closed\n");
			abort();
		}
		if (written < len) {
			ssize_t n = send(s->fd, out + written, len - written, MSG_NOSIGNAL);
			if (n > 0)
				written += (size_t)n;
			else
				FUZZ_CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
		} else if (!shut) {
			shutdown(s->fd, SHUT_WR);
			shut = TRUE;
		}
		drain(s);
		/* block only once EOF is queued: the link is then always woken */
		g_main_context_iteration(s->ctx, shut);
	}
	drain(s); /* a CLOSE record, if the link sent one */
}

static void session_end(Session *s)
{
	FUZZ_CHECK(!glow_link_is_established(s->link));
	if (fuzz_verbose()) {
		const GlowLinkStats *ls = glow_link_stats(s->link);
		fprintf(stderr, "fuzz-link: established %d, %" G_GUINT64_FORMAT " packets in, %" G_GUINT64_FORMAT
		        " records in, %" G_GUINT64_FORMAT " out (%" G_GUINT64_FORMAT " checked); closed: %s\n",
		        s->established, s->packets, ls->records_in, ls->records_out, s->records_back, s->reason);
	}
	g_free(s->reason);
	glow_link_unref(s->link);
	close(s->fd);
	/* run whatever the link left attached (nothing, normally) */
	while (g_main_context_iteration(s->ctx, FALSE))
		;
	g_main_context_unref(s->ctx);
	g_byte_array_unref(s->in);
}

static void put_frame(GByteArray *out, const uint8_t *p, size_t n)
{
	uint8_t hdr[2] = { (uint8_t)(n >> 8), (uint8_t)n };
	g_byte_array_append(out, hdr, 2);
	g_byte_array_append(out, p, (guint)n);
}

/* Runs the link until its next frame (message 2) is in s->in; returns its length or 0. */
static size_t wait_frame(Session *s)
{
	for (int round = 0; round < MAX_ROUNDS && !s->closed; round++) {
		uint8_t buf[4096];
		ssize_t n;
		while ((n = read(s->fd, buf, sizeof buf)) > 0)
			g_byte_array_append(s->in, buf, (guint)n);
		if (s->in->len >= 2) {
			size_t len = (size_t)s->in->data[0] << 8 | s->in->data[1];
			if (s->in->len >= 2 + len)
				return len;
		}
		g_main_context_iteration(s->ctx, FALSE);
	}
	return 0;
}

static void run_sealed(Session *s, const uint8_t *data, size_t size)
{
	GlowNoiseHandshake hs;
	GlowNoiseCipher c1, c2;
	GlowNoiseConfig nc = {
		.protocol_name = GLOW_LINK_NOISE_PROTOCOL,
		.initiator = true,
		.prologue = (const uint8_t *)GLOW_LINK_PROLOGUE,
		.prologue_len = strlen(GLOW_LINK_PROLOGUE),
		.s_priv = peer.s_priv,
		.e_priv = peer.e_priv,
	};
	uint8_t msg[GLOW_LINK_MAX_HELLO + 256], payload[GLOW_LINK_MAX_HELLO], hello_buf[GLOW_LINK_MAX_HELLO];
	GByteArray *out = g_byte_array_new();
	uint32_t max_packet = 0;
	long n;

	for (size_t i = 0; i < 4 && i < size; i++)
		max_packet = max_packet << 8 | data[i];
	data += MIN(size, 4);
	size -= MIN(size, 4);

	/* message 1 */
	FUZZ_CHECK(glow_noise_handshake_init(&hs, &nc) == 0);
	n = glow_noise_write_message(&hs, NULL, 0, msg, sizeof msg);
	FUZZ_CHECK(n == 32);
	put_frame(out, msg, (size_t)n);
	FUZZ_CHECK(send(s->fd, out->data, out->len, MSG_NOSIGNAL) == (ssize_t)out->len);
	g_byte_array_set_size(out, 0);

	/* message 2: an honest link always answers, and proves its identity */
	size_t len = wait_frame(s);
	FUZZ_CHECK(len > 0 && !s->closed);
	n = glow_noise_read_message(&hs, s->in->data + 2, len, payload, sizeof payload);
	FUZZ_CHECK(n >= 0);
	g_byte_array_remove_range(s->in, 0, (guint)(2 + len));
	Glow__LinkHello *theirs = glow__link_hello__unpack(NULL, (size_t)n, payload);
	FUZZ_CHECK(theirs != NULL && theirs->identity_key.len == 32 && theirs->signature.len == 64);
	FUZZ_CHECK(memcmp(theirs->identity_key.data, self->id.b, 32) == 0);
	FUZZ_CHECK(glow_identity_verify_noise_key(theirs->identity_key.data, theirs->signature.data,
	                                          glow_noise_remote_static(&hs)));
	glow__link_hello__free_unpacked(theirs, NULL);

	/* message 3 */
	Glow__LinkHello hello = GLOW__LINK_HELLO__INIT;
	hello.identity_key.data = peer.id_pk;
	hello.identity_key.len = 32;
	hello.signature.data = peer.sig;
	hello.signature.len = 64;
	hello.name = "fuzz-peer";
	hello.max_packet = max_packet;
	size_t hl = glow__link_hello__pack(&hello, hello_buf);
	n = glow_noise_write_message(&hs, hello_buf, hl, msg, sizeof msg);
	FUZZ_CHECK(n > 0 && glow_noise_handshake_done(&hs));
	glow_noise_split(&hs, &c1, &c2, NULL, NULL);
	glow_noise_handshake_clear(&hs);
	put_frame(out, msg, (size_t)n);
	s->rx = &c2;

	/* the records */
	uint8_t *rec = malloc(GLOW_LINK_MAX_RECORD);
	FUZZ_CHECK(rec != NULL);
	while (size >= 3) {
		uint8_t type = data[0];
		size_t plen = MIN((size_t)data[1] << 8 | data[2], size - 3);
		const uint8_t *p = data + 3;
		data += 3 + plen;
		size -= 3 + plen;
		if (type == CHUNK_RAW) {
			g_byte_array_append(out, p, (guint)plen);
			continue;
		}
		plen = MIN(plen, (size_t)GLOW_LINK_MAX_RECORD_PLAIN);
		rec[0] = type;
		if (type == REC_CLEAR) {
			memcpy(rec + 1, p, plen);
			FUZZ_CHECK(glow_noise_cipher_encrypt(&c1, rec, 1 + plen, p, 0, rec + 1 + plen) == 0);
		} else {
			FUZZ_CHECK(glow_noise_cipher_encrypt(&c1, &rec[0], 1, p, plen, rec + 1) == 0);
		}
		put_frame(out, rec, 1 + plen + GLOW_NOISE_TAGLEN);
		if (type == REC_REKEY)
			glow_noise_cipher_rekey(&c1);
	}
	free(rec);
	session_pump(s, out->data, out->len);
	/* the honest handshake must have been accepted */
	FUZZ_CHECK(s->established);
	g_byte_array_unref(out);
	glow_noise_cipher_clear(&c1);
	glow_noise_cipher_clear(&c2);
	s->rx = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Session s;

	if (size < 1)
		return 0;
	session_start(&s);
	if (data[0] & 1)
		run_sealed(&s, data + 1, size - 1);
	else
		session_pump(&s, data + 1, size - 1);
	session_end(&s);
	return 0;
}
