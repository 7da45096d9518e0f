/* test-book.c — the user key, device certificates and the address book
 * (src/node/user.c, book.c, statefile.c): what a node keeps on disk about
 * itself and others, and what it believes. */
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "node/book.h"
#include "node/statefile.h"
#include "node/user.h"

static char *tmp_dir(void)
{
	return g_dir_make_tmp("glow-book-XXXXXX", NULL);
}

static void rm_rf(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		g_unlink(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

static GlowIdentity *identity(guint8 n)
{
	uint8_t seed[32] = { n };
	return glow_identity_from_seed(seed);
}

static void test_user_files(void)
{
	g_autofree char *dir = tmp_dir();
	g_autofree char *key = g_build_filename(dir, GLOW_USER_KEY_FILE, NULL);
	g_autofree char *cert = g_build_filename(dir, GLOW_DEVICE_CERT_FILE, NULL);
	g_autoptr(GError) e = NULL;
	GlowIdentity *id = identity(1);
	gboolean created;
	GlowUser *u, *again;
	struct stat st;

	/* Nothing: the first device of a new user, key 0600. */
	u = glow_user_load_or_create(dir, id, &created, &e);
	g_assert_no_error(e);
	g_assert_true(created && u->has_secret);
	g_assert_cmpint(g_stat(key, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	/* Again: the same user, not a new one. */
	again = glow_user_load_or_create(dir, id, &created, &e);
	g_assert_no_error(e);
	g_assert_false(created);
	g_assert_true(glow_node_id_equal(&u->key, &again->key));
	glow_user_free(again);
	/* A readable key is refused, with the fix in the message. */
	g_chmod(key, 0644);
	again = glow_user_load_or_create(dir, id, &created, &e);
	g_assert_null(again);
	g_assert_nonnull(strstr(e->message, "chmod 600"));
	g_clear_error(&e);
	g_chmod(key, 0600);
	/* Key only (copied to a new device): it certifies itself. */
	g_unlink(cert);
	again = glow_user_load_or_create(dir, id, &created, &e);
	g_assert_no_error(e);
	g_assert_false(created);
	g_assert_true(glow_node_id_equal(&u->key, &again->key));
	glow_user_free(again);
	/* A damaged certificate and no key: refused, not a new user in secret. */
	g_unlink(key);
	g_assert_true(g_file_set_contents(cert, "garbage", -1, NULL));
	again = glow_user_load_or_create(dir, id, &created, &e);
	g_assert_null(again);
	g_assert_nonnull(strstr(e->message, "damaged"));
	g_clear_error(&e);
	glow_user_free(u);
	glow_identity_free(id);
	rm_rf(dir);
}

static void test_certificates(void)
{
	g_autofree char *dir = tmp_dir();
	GlowIdentity *a = identity(1), *b = identity(2);
	g_autoptr(GError) e = NULL;
	gboolean created;
	GlowUser *u = glow_user_load_or_create(dir, a, &created, &e);
	g_autoptr(GBytes) cert = glow_user_issue_cert(u, &b->id, 42);
	gsize len;
	const uint8_t *data = g_bytes_get_data(cert, &len);
	g_autofree uint8_t *bad = g_memdup2(data, len);
	GlowNodeId user;

	g_assert_true(glow_user_verify_cert(data, len, &b->id, &user, NULL));
	g_assert_true(glow_node_id_equal(&user, &u->key));
	/* For another node: refused. */
	g_assert_false(glow_user_verify_cert(data, len, &a->id, &user, &e));
	g_assert_nonnull(strstr(e->message, "another node"));
	g_clear_error(&e);
	/* Any byte changed: refused (the encoding or the signature breaks). */
	for (gsize i = 0; i < len; i++) {
		memcpy(bad, data, len);
		bad[i] ^= 0x01;
		g_assert_false(glow_user_verify_cert(bad, len, &b->id, &user, NULL));
	}
	g_assert_false(glow_user_verify_cert(data, 0, &b->id, &user, NULL));
	glow_user_free(u);
	glow_identity_free(a);
	glow_identity_free(b);
	rm_rf(dir);
}

static void test_book(void)
{
	g_autofree char *dir = tmp_dir();
	g_autofree char *path = g_build_filename(dir, GLOW_BOOK_FILE, NULL);
	g_autofree char *bad = g_strdup_printf("%s.bad", path);
	g_autofree char *warning = NULL;
	GlowIdentity *a = identity(1), *own = identity(2);
	g_autoptr(GError) e = NULL;
	gboolean created;
	GlowUser *u = glow_user_load_or_create(dir, a, &created, &e);
	g_autoptr(GBytes) cert = glow_user_issue_cert(u, &own->id, 1);
	GlowBook *b = glow_book_new(path, 4);
	GlowBookEntry *ent;
	GlowNodeId user;

	glow_book_set_own_user(b, &u->key);
	g_assert_true(glow_book_set_cert(b, &own->id, g_bytes_get_data(cert, NULL), g_bytes_get_size(cert), NULL));
	g_assert_true(glow_book_user_of(b, &own->id, &user) && glow_node_id_equal(&user, &u->key));
	/* Addresses: newest first, bounded, malformed ones ignored. */
	for (guint i = 0; i < 12; i++) {
		g_autofree char *addr = g_strdup_printf("10.0.0.%u:7177", i);
		glow_book_add_addr(b, &own->id, addr, 100 + i);
	}
	g_assert_false(glow_book_add_addr(b, &own->id, "no port", 500));
	g_assert_false(glow_book_add_addr(b, &own->id, "bad\x01:1", 500));
	g_assert_false(glow_book_add_addr(b, &own->id, "10.9.9.9:1", 1)); /* older than all eight */
	ent = glow_book_get(b, &own->id);
	g_assert_cmpuint(ent->addrs->len, ==, GLOW_BOOK_MAX_ADDRS);
	g_assert_cmpstr(((GlowBookAddr *)ent->addrs->pdata[0])->addr, ==, "10.0.0.11:7177");
	/* Full with foreign entries: the least recently seen foreign one goes,
	 * the user's device stays. */
	for (guint8 i = 10; i < 20; i++) {
		GlowNodeId f = { { i } };
		glow_book_seen(b, &f, i);
	}
	g_assert_cmpuint(glow_book_count(b), ==, 4);
	g_assert_nonnull(glow_book_get(b, &own->id));
	g_assert_nonnull(glow_book_get(b, &(GlowNodeId){ { 19 } }));
	g_assert_null(glow_book_get(b, &(GlowNodeId){ { 10 } }));
	/* Saved and loaded whole. */
	g_assert_true(glow_book_save(b, &e));
	g_assert_no_error(e);
	glow_book_free(b);
	b = glow_book_new(path, 4);
	glow_book_load(b, &warning);
	g_assert_null(warning);
	g_assert_cmpuint(glow_book_count(b), ==, 4);
	ent = glow_book_get(b, &own->id);
	g_assert_nonnull(ent->cert);
	g_assert_cmpuint(ent->addrs->len, ==, GLOW_BOOK_MAX_ADDRS);
	glow_book_free(b);
	/* A damaged file is set aside, and the book starts empty. */
	g_assert_true(g_file_set_contents(path, "[broken\n\x01", -1, NULL));
	b = glow_book_new(path, 4);
	glow_book_load(b, &warning);
	g_assert_nonnull(warning);
	g_assert_cmpuint(glow_book_count(b), ==, 0);
	g_assert_true(g_file_test(bad, G_FILE_TEST_EXISTS));
	glow_book_free(b);
	glow_user_free(u);
	glow_identity_free(a);
	glow_identity_free(own);
	rm_rf(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* The damaged files below are logged as warnings, which is right. */
	g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
	g_assert_cmpint(sodium_init(), >=, 0);
	g_test_add_func("/book/user-files", test_user_files);
	g_test_add_func("/book/certificates", test_certificates);
	g_test_add_func("/book/book", test_book);
	return g_test_run();
}
