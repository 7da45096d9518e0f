/* fuzz-book — what a node reads from disk and from its peers about other
 * nodes: the address book file (peers.conf, a GLib key file that may be
 * damaged or hand-edited) and device certificates (from link hellos,
 * Introduce and Sync).
 *
 * The input is (1) checked as a packed DeviceCert against the node ID it
 * names and against a fixed one, and (2) loaded as peers.conf; whatever
 * loads must save, load again to the same number of entries, and stay
 * within the book's bounds. A certificate made here with a fixed user key
 * is also fed back with the input's bytes spliced in, so the signature
 * check sees near-valid certificates, not only garbage.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "glow/user.pb-c.h"
#include "node/book.h"
#include "node/statefile.h"
#include "node/user.h"

FUZZ_DEFINE_INIT()

static void check_cert(const uint8_t *data, size_t size)
{
	GlowNodeId fixed = { { 1, 2, 3 } }, user;
	Glow__DeviceCert *c = glow__device_cert__unpack(NULL, size, data);

	glow_user_verify_cert(data, size, &fixed, &user, NULL);
	if (c && c->node_id.len == 32) {
		GlowNodeId named;
		memcpy(named.b, c->node_id.data, 32);
		if (glow_user_verify_cert(data, size, &named, &user, NULL))
			FUZZ_CHECK(c->user_key.len == 32 && !memcmp(user.b, c->user_key.data, 32));
	}
	if (c)
		glow__device_cert__free_unpacked(c, NULL);
}

/* A real certificate with the input's first bytes written over part of it. */
static void check_spliced(const uint8_t *data, size_t size)
{
	GlowUser u = { 0 };
	uint8_t seed[32] = { 7 };
	GlowNodeId dev = { { 9, 9 } }, user;
	GBytes *cert;
	gsize len;
	uint8_t *buf;

	crypto_sign_seed_keypair(u.key.b, u.sk, seed);
	u.has_secret = TRUE;
	cert = glow_user_issue_cert(&u, &dev, 1234);
	buf = g_bytes_unref_to_data(cert, &len);
	FUZZ_CHECK(glow_user_verify_cert(buf, len, &dev, &user, NULL));
	if (size) {
		size_t at = data[0] % len, n = MIN(size - 1, len - at);
		memcpy(buf + at, data + 1, n);
		if (glow_user_verify_cert(buf, len, &dev, &user, NULL))
			FUZZ_CHECK(!memcmp(user.b, u.key.b, 32)); /* only the real signer's certificate passes */
	}
	g_free(buf);
}

static void check_book(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/fuzz-book-XXXXXX";
	g_autofree char *path = NULL, *bad = NULL, *w1 = NULL, *w2 = NULL;
	GlowBook *b;
	guint n;

	if (!g_mkdtemp(dir))
		return;
	path = g_build_filename(dir, "peers.conf", NULL);
	bad = g_strdup_printf("%s.bad", path);
	if (!glow_statefile_write(path, data, size, 0600, NULL))
		goto out;
	b = glow_book_new(path, 16);
	glow_book_load(b, &w1);
	n = glow_book_count(b);
	FUZZ_CHECK(n <= 16);
	{
		g_autoptr(GPtrArray) list = glow_book_list(b);
		for (guint i = 0; i < list->len; i++)
			FUZZ_CHECK(((GlowBookEntry *)list->pdata[i])->addrs->len <= GLOW_BOOK_MAX_ADDRS);
		if (list->len)
			glow_book_seen(b, &((GlowBookEntry *)list->pdata[0])->id, G_MAXUINT32); /* dirty: save writes */
	}
	FUZZ_CHECK(glow_book_save(b, NULL));
	glow_book_free(b);
	/* What was saved loads again, whole. */
	b = glow_book_new(path, 16);
	glow_book_load(b, &w2);
	FUZZ_CHECK(w2 == NULL);
	FUZZ_CHECK(glow_book_count(b) == n);
	glow_book_free(b);
out:
	unlink(path);
	unlink(bad);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	check_cert(data, size);
	check_spliced(data, size);
	check_book(data, size);
	return 0;
}
