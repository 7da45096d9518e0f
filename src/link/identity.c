#include "link/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link/noise.h"
#include "wire/limits.h"

#define KEY_MAGIC "GLOW-IDENTITY-V1\n"

static void sign_noise_key(GlowIdentity *id)
{
	uint8_t msg[sizeof GLOW_LINK_SIG_CONTEXT - 1 + 32];
	memcpy(msg, GLOW_LINK_SIG_CONTEXT, sizeof GLOW_LINK_SIG_CONTEXT - 1);
	memcpy(msg + sizeof GLOW_LINK_SIG_CONTEXT - 1, id->noise_pub, 32);
	crypto_sign_detached(id->noise_sig, NULL, msg, sizeof msg, id->sk);
}

gboolean glow_identity_verify_noise_key(const uint8_t identity_key[32], const uint8_t sig[64],
                                        const uint8_t noise_pub[32])
{
	uint8_t msg[sizeof GLOW_LINK_SIG_CONTEXT - 1 + 32];
	memcpy(msg, GLOW_LINK_SIG_CONTEXT, sizeof GLOW_LINK_SIG_CONTEXT - 1);
	memcpy(msg + sizeof GLOW_LINK_SIG_CONTEXT - 1, noise_pub, 32);
	return crypto_sign_verify_detached(sig, msg, sizeof msg, identity_key) == 0;
}

GlowIdentity *glow_identity_from_seed(const uint8_t seed[32])
{
	GlowIdentity *id = g_new0(GlowIdentity, 1);
	crypto_sign_seed_keypair(id->id.b, id->sk, seed);
	glow_noise_keypair(id->noise_priv, id->noise_pub);
	sign_noise_key(id);
	return id;
}

void glow_identity_free(GlowIdentity *id)
{
	if (!id)
		return;
	sodium_memzero(id, sizeof *id);
	g_free(id);
}

static gboolean write_new_key(const char *path, GError **error)
{
	uint8_t seed[32];
	char hex[65];
	g_autofree char *text = NULL;
	g_autofree char *tmp = g_strdup_printf("%s.tmp", path);
	g_autofree char *dir = g_path_get_dirname(path);
	gboolean ok = FALSE;
	int fd, dfd;

	randombytes_buf(seed, sizeof seed);
	sodium_bin2hex(hex, sizeof hex, seed, sizeof seed);
	text = g_strdup_printf(KEY_MAGIC "%s\n", hex);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(hex, sizeof hex);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) < 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	/* rename + directory fsync: a crash leaves either no key or the whole key. */
	if (rename(tmp, path) < 0)
		goto fail;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	ok = TRUE;
	goto out;
fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot write %s: %s", path,
	            g_strerror(errno));
	unlink(tmp);
out:
	sodium_memzero(text, strlen(text));
	return ok;
}

static GlowIdentity *read_key(const char *path, GError **error)
{
	char buf[256];
	uint8_t seed[32];
	size_t seed_len = 0;
	struct stat st;
	ssize_t n;
	GlowIdentity *id = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot open %s: %s", path,
		            g_strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "identity key %s is readable by group or others (mode %04o); refusing to "
		            "use it. Fix with: chmod 600 %s",
		            path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "identity key %s belongs to uid %u, not to this user (uid %u)", path,
		            (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	n = read(fd, buf, sizeof buf - 1);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	if (strncmp(buf, KEY_MAGIC, strlen(KEY_MAGIC)) != 0 ||
	    sodium_hex2bin(seed, sizeof seed, buf + strlen(KEY_MAGIC), (size_t)n - strlen(KEY_MAGIC),
	                   "\n", &seed_len, NULL) != 0 ||
	    seed_len != sizeof seed) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "identity key %s is damaged (expected \"GLOW-IDENTITY-V1\" and 64 hex "
		            "digits); move it away to make a new identity",
		            path);
		goto out;
	}
	id = glow_identity_from_seed(seed);
out:
	sodium_memzero(buf, sizeof buf);
	sodium_memzero(seed, sizeof seed);
	close(fd);
	return id;
}

GlowIdentity *glow_identity_load_or_create(const char *state_dir, gboolean *created, GError **error)
{
	g_autofree char *path = g_build_filename(state_dir, GLOW_IDENTITY_FILE, NULL);

	*created = FALSE;
	if (g_mkdir_with_parents(state_dir, 0700) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot create state directory %s: %s", state_dir, g_strerror(errno));
		return NULL;
	}
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		if (!write_new_key(path, error))
			return NULL;
		*created = TRUE;
	}
	return read_key(path, error);
}
