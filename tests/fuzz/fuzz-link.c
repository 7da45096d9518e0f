/* fuzz-link — a real responder GlowLink fed the input as its peer's bytes.
 *
 * The link runs on one end of a socketpair in a private GMainContext; the
 * harness writes the input into the other end, then shuts it down, and
 * iterates the context until the link closes (it must: it sees EOF at the
 * latest). Whatever the link sends back is read and dropped; packets it
 * delivers are echoed back with glow_link_send, so the send path runs too.
 *
 * The input is the raw byte stream: u16 frames, handshake messages then
 * records (docs/firefly.md "Link layer"). libsodium's RNG is replaced by a
 * deterministic one reset for every input, so the link's Noise static and
 * ephemeral keys are the same each run: the seeds in corpus/fuzz-link/
 * are complete valid sessions (handshake, DATA, PING, REKEY, CLOSE) that
 * the fuzzer mutates from.
 *
 * RNG draws, in order: 0 the identity's Noise static key
 * (glow_identity_from_seed), 1 the link's ephemeral (message 2).
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

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LINK_ID_SEED 0xb2 /* the responder identity's Ed25519 seed byte */
#define MAX_ROUNDS 100000

static GlowIdentity *self;

typedef struct {
	gboolean closed;
	gboolean established;
	guint64 packets;
	char *reason;
} State;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32];
	(void)argc;
	(void)argv;
	fuzz_init();
	memset(seed, LINK_ID_SEED, sizeof seed);
	fuzz_rng_reset(0);
	self = glow_identity_from_seed(seed);
	return 0;
}

static void on_established(GlowLink *l, gpointer user)
{
	State *s = user;
	FUZZ_CHECK(!s->closed && glow_link_is_established(l));
	s->established = TRUE;
}

static void on_packet(GlowLink *l, const GlowPacketHeader *h, const uint8_t *payload, gpointer user)
{
	State *s = user;
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
	State *s = user;
	(void)l;
	FUZZ_CHECK(!s->closed); /* exactly once */
	FUZZ_CHECK(reason != NULL);
	s->closed = TRUE;
	if (fuzz_verbose())
		s->reason = g_strdup(reason);
}

static void drain(int fd)
{
	uint8_t buf[65536];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const GlowLinkCallbacks cb = { on_established, on_packet, on_closed };
	GlowLinkConfig cfg;
	State st = { 0 };
	int sv[2];
	size_t written = 0;
	gboolean shut = FALSE;

	fuzz_rng_reset(1); /* the link's ephemeral is draw 1, every run */
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	FUZZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	glow_link_config_default(&cfg);

	GMainContext *ctx = g_main_context_new();
	GlowLink *l = glow_link_new(ctx, 1, glow_conn_new(&glow_unix_ops, sv[0]), FALSE, self, "fuzz",
	                            NULL, &cfg, &cb, &st);
	for (int round = 0; !st.closed; round++) {
		if (round == MAX_ROUNDS) {
			fprintf(stderr, "fuzz-link: the link neither consumed the input nor closed\n");
			abort();
		}
		if (written < size) {
			ssize_t n = send(sv[1], data + written, size - written, MSG_NOSIGNAL);
			if (n > 0)
				written += (size_t)n;
			else
				FUZZ_CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
		} else if (!shut) {
			shutdown(sv[1], SHUT_WR);
			shut = TRUE;
		}
		drain(sv[1]);
		/* block only once EOF is queued: the link is then always woken */
		g_main_context_iteration(ctx, shut);
	}
	FUZZ_CHECK(!glow_link_is_established(l));
	if (fuzz_verbose()) {
		const GlowLinkStats *ls = glow_link_stats(l);
		fprintf(stderr, "fuzz-link: established %d, %" G_GUINT64_FORMAT " packets in, %" G_GUINT64_FORMAT
		        " records in, %" G_GUINT64_FORMAT " out; closed: %s\n", st.established, st.packets,
		        ls->records_in, ls->records_out, st.reason);
		g_free(st.reason);
	}
	glow_link_unref(l);
	close(sv[1]);
	/* run whatever the link left attached (nothing, normally) */
	while (g_main_context_iteration(ctx, FALSE))
		;
	g_main_context_unref(ctx);
	return 0;
}
