#include "node/user.h"

#include <errno.h>
#include <gio/gio.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "glow/user.pb-c.h"
#include "node/statefile.h"

#define USER_MAGIC "GLOW-USER-V1\n"
#define CERT_CONTEXT "glow-device-cert-v1" /* and its NUL: the signed bytes start with 20 */
#define CERT_SIGNED_LEN (sizeof CERT_CONTEXT + 32 + 32 + 8)

static void cert_message(const GlowNodeId *user, const GlowNodeId *device, guint64 issued_ms,
                         uint8_t out[CERT_SIGNED_LEN])
{
	uint8_t *p = out;
	memcpy(p, CERT_CONTEXT, sizeof CERT_CONTEXT);
	p += sizeof CERT_CONTEXT;
	memcpy(p, user->b, 32);
	memcpy(p + 32, device->b, 32);
	p += 64;
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(issued_ms >> (8 * i));
}

GBytes *glow_user_issue_cert(const GlowUser *u, const GlowNodeId *device, guint64 now_ms)
{
	Glow__DeviceCert c = GLOW__DEVICE_CERT__INIT;
	uint8_t msg[CERT_SIGNED_LEN], sig[64];
	uint8_t *buf;
	gsize len;

	g_return_val_if_fail(u->has_secret, NULL);
	cert_message(&u->key, device, now_ms, msg);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, u->sk);
	c.user_key.data = (uint8_t *)u->key.b;
	c.user_key.len = 32;
	c.node_id.data = (uint8_t *)device->b;
	c.node_id.len = 32;
	c.issued_ms = now_ms;
	c.signature.data = sig;
	c.signature.len = 64;
	len = glow__device_cert__get_packed_size(&c);
	buf = g_malloc(len);
	glow__device_cert__pack(&c, buf);
	return g_bytes_new_take(buf, len);
}

gboolean glow_user_verify_cert(const uint8_t *cert, gsize len, const GlowNodeId *device, GlowNodeId *user,
                               GError **error)
{
	Glow__DeviceCert *c;
	uint8_t msg[CERT_SIGNED_LEN];
	gboolean ok = FALSE;

	if (!len || len > GLOW_DEVICE_CERT_MAX || !(c = glow__device_cert__unpack(NULL, len, cert))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "malformed device certificate");
		return FALSE;
	}
	if (c->user_key.len != 32 || c->node_id.len != 32 || c->signature.len != 64) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "device certificate has fields of the wrong size");
		goto out;
	}
	if (memcmp(c->node_id.data, device->b, 32) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "device certificate is for another node");
		goto out;
	}
	memcpy(user->b, c->user_key.data, 32);
	cert_message(user, device, c->issued_ms, msg);
	if (crypto_sign_verify_detached(c->signature.data, msg, sizeof msg, c->user_key.data) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "device certificate signature does not verify");
		goto out;
	}
	ok = TRUE;
out:
	glow__device_cert__free_unpacked(c, NULL);
	return ok;
}

static void set_secret(GlowUser *u, const uint8_t seed[32])
{
	crypto_sign_seed_keypair(u->key.b, u->sk, seed);
	u->has_secret = TRUE;
}

gboolean glow_user_beacon_key(const GlowUser *u, uint8_t out[32])
{
	static const char label[] = "glow-beacon-tag-v1";
	uint8_t seed[32];
	if (!u->has_secret) {
		memset(out, 0, 32);
		return FALSE;
	}
	glow_user_seed(u, seed);
	crypto_generichash(out, 32, (const uint8_t *)label, sizeof label - 1, seed, sizeof seed);
	sodium_memzero(seed, sizeof seed);
	return TRUE;
}

void glow_user_seed(const GlowUser *u, uint8_t seed[32])
{
	crypto_sign_ed25519_sk_to_seed(seed, u->sk);
}

static gboolean write_seed(const char *path, const uint8_t seed[32], GError **error)
{
	char hex[65], text[sizeof USER_MAGIC + 66];
	gboolean ok;

	sodium_bin2hex(hex, sizeof hex, seed, 32);
	g_snprintf(text, sizeof text, USER_MAGIC "%s\n", hex);
	ok = glow_statefile_write(path, text, strlen(text), 0600, error);
	sodium_memzero(hex, sizeof hex);
	sodium_memzero(text, sizeof text);
	return ok;
}

static gboolean read_seed(const char *path, uint8_t seed[32], GError **error)
{
	g_autoptr(GBytes) b = glow_statefile_read(path, 256, TRUE, error);
	gsize len, seed_len = 0;
	const char *text;
	gboolean ok;

	if (!b)
		return FALSE;
	text = g_bytes_get_data(b, &len);
	ok = len > strlen(USER_MAGIC) && !strncmp(text, USER_MAGIC, strlen(USER_MAGIC)) &&
	     sodium_hex2bin(seed, 32, text + strlen(USER_MAGIC), len - strlen(USER_MAGIC), "\n", &seed_len, NULL) == 0 &&
	     seed_len == 32;
	sodium_memzero((void *)text, len);
	if (!ok)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "user key %s is damaged (expected \"GLOW-USER-V1\" and 64 hex digits)", path);
	return ok;
}

static gboolean save_cert(GlowUser *u, const char *state_dir, GBytes *cert, GError **error)
{
	g_autofree char *path = g_build_filename(state_dir, GLOW_DEVICE_CERT_FILE, NULL);
	gsize len;
	const void *data = g_bytes_get_data(cert, &len);
	if (!glow_statefile_write(path, data, len, 0644, error))
		return FALSE;
	if (u->cert)
		g_bytes_unref(u->cert);
	u->cert = g_bytes_ref(cert);
	return TRUE;
}

static guint64 wall_ms(void)
{
	return (guint64)(g_get_real_time() / 1000);
}

/* The certificate on disk, if it is this node's and (when we hold the user
 * secret) from that user. */
static GBytes *load_cert(const char *state_dir, const GlowIdentity *id, const GlowUser *u, GlowNodeId *user,
                         gboolean *damaged)
{
	g_autofree char *path = g_build_filename(state_dir, GLOW_DEVICE_CERT_FILE, NULL);
	g_autoptr(GError) e = NULL;
	GBytes *b;
	gsize len;
	const uint8_t *data;

	*damaged = FALSE;
	if (access(path, F_OK) < 0)
		return NULL;
	*damaged = TRUE;
	if (!(b = glow_statefile_read(path, GLOW_DEVICE_CERT_MAX, FALSE, &e))) {
		g_warning("%s", e->message);
		return NULL;
	}
	data = g_bytes_get_data(b, &len);
	if (!glow_user_verify_cert(data, len, &id->id, user, &e)) {
		g_warning("%s: %s", path, e->message);
		g_bytes_unref(b);
		return NULL;
	}
	*damaged = FALSE;
	if (u->has_secret && !glow_node_id_equal(user, &u->key)) {
		g_message("%s is from another user than %s; replacing it", path, GLOW_USER_KEY_FILE);
		g_bytes_unref(b);
		return NULL;
	}
	return b;
}

GlowUser *glow_user_load_or_create(const char *state_dir, const GlowIdentity *id, gboolean *created_user,
                                   GError **error)
{
	g_autofree char *key_path = g_build_filename(state_dir, GLOW_USER_KEY_FILE, NULL);
	GlowUser *u = g_new0(GlowUser, 1);
	GlowNodeId cert_user;
	uint8_t seed[32];
	GBytes *cert;

	*created_user = FALSE;
	if (access(key_path, F_OK) == 0) {
		if (!read_seed(key_path, seed, error))
			goto fail;
		set_secret(u, seed);
		sodium_memzero(seed, sizeof seed);
	}
	gboolean damaged;
	cert = load_cert(state_dir, id, u, &cert_user, &damaged);
	if (cert) {
		u->key = cert_user;
		u->cert = cert;
		return u;
	}
	if (damaged && !u->has_secret) {
		/* Making a new user here would quietly take the device out of its
		 * user: the person decides. */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "%s/%s is damaged and this node holds no user key: restore the file, or move it away to "
		            "make this node the first device of a new user",
		            state_dir, GLOW_DEVICE_CERT_FILE);
		goto fail;
	}
	if (!u->has_secret) {
		/* Neither a key nor a certificate: the first device of a new user. */
		randombytes_buf(seed, sizeof seed);
		gboolean ok = write_seed(key_path, seed, error);
		set_secret(u, seed);
		sodium_memzero(seed, sizeof seed);
		if (!ok)
			goto fail;
		*created_user = TRUE;
	}
	cert = glow_user_issue_cert(u, &id->id, wall_ms());
	gboolean ok = save_cert(u, state_dir, cert, error);
	g_bytes_unref(cert);
	if (ok)
		return u;
fail:
	glow_user_free(u);
	return NULL;
}

/* u becomes the user whose key next holds (next is wiped). */
static void take_key(GlowUser *u, GlowUser *next)
{
	u->key = next->key;
	memcpy(u->sk, next->sk, sizeof u->sk);
	u->has_secret = TRUE;
	sodium_memzero(next, sizeof *next);
}

gboolean glow_user_create(GlowUser *u, const char *state_dir, const GlowIdentity *id, GError **error)
{
	g_autofree char *key_path = g_build_filename(state_dir, GLOW_USER_KEY_FILE, NULL);
	GlowUser next = { 0 };
	uint8_t seed[32];
	g_autoptr(GBytes) cert = NULL;
	gboolean ok;

	randombytes_buf(seed, sizeof seed);
	set_secret(&next, seed);
	ok = write_seed(key_path, seed, error);
	sodium_memzero(seed, sizeof seed);
	if (!ok)
		return FALSE;
	cert = glow_user_issue_cert(&next, &id->id, wall_ms());
	if (!save_cert(u, state_dir, cert, error)) {
		sodium_memzero(&next, sizeof next);
		return FALSE;
	}
	take_key(u, &next);
	return TRUE;
}

gboolean glow_user_adopt(GlowUser *u, const char *state_dir, const GlowIdentity *id, const uint8_t seed[32],
                         GBytes *cert, GError **error)
{
	g_autofree char *key_path = g_build_filename(state_dir, GLOW_USER_KEY_FILE, NULL);
	GlowUser next = { 0 };
	GlowNodeId cert_user;
	gsize len;
	const uint8_t *data = g_bytes_get_data(cert, &len);

	set_secret(&next, seed);
	if (!glow_user_verify_cert(data, len, &id->id, &cert_user, error))
		goto fail;
	if (!glow_node_id_equal(&cert_user, &next.key)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the certificate is not from the user key sent with it");
		goto fail;
	}
	/* Key first: a crash between the two writes leaves a key whose
	 * certificate is missing, which the next start makes again. */
	if (!write_seed(key_path, seed, error) || !save_cert(u, state_dir, cert, error))
		goto fail;
	take_key(u, &next);
	return TRUE;
fail:
	sodium_memzero(&next, sizeof next);
	return FALSE;
}

void glow_user_free(GlowUser *u)
{
	if (!u)
		return;
	if (u->cert)
		g_bytes_unref(u->cert);
	sodium_memzero(u, sizeof *u);
	g_free(u);
}
