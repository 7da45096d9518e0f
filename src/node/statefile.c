#include "node/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean set_errno_error(GError **error, const char *what, const char *path)
{
	int e = errno;
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot %s %s: %s", what, path, g_strerror(e));
	return FALSE;
}

static gboolean write_all(int fd, const guint8 *p, gsize len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		p += n;
		len -= (gsize)n;
	}
	return TRUE;
}

gboolean glow_statefile_write(const char *path, const void *data, gsize len, int mode, GError **error)
{
	g_autofree char *tmp = g_strdup_printf("%s.tmp", path);
	g_autofree char *dir = g_path_get_dirname(path);
	int fd, dfd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return set_errno_error(error, "write", tmp);
	if (fchmod(fd, (mode_t)mode) < 0 || !write_all(fd, data, len) || fsync(fd) < 0) {
		set_errno_error(error, "write", tmp);
		close(fd);
		unlink(tmp);
		return FALSE;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		set_errno_error(error, "replace", path);
		unlink(tmp);
		return FALSE;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return TRUE;
}

GBytes *glow_statefile_read(const char *path, gsize max, gboolean private_file, GError **error)
{
	struct stat st;
	guint8 *buf;
	gsize got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		set_errno_error(error, "open", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if (private_file && (st.st_mode & 077)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "%s is readable by group or others (mode %04o); refusing to use it. Fix with: chmod 600 %s",
		            path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NULL;
	}
	if (private_file && st.st_uid != geteuid()) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "%s belongs to uid %u, not to this user (uid %u)",
		            path, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return NULL;
	}
	if ((gsize)st.st_size > max) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is too large (%lld bytes, at most %" G_GSIZE_FORMAT ")",
		            path, (long long)st.st_size, max);
		close(fd);
		return NULL;
	}
	buf = g_malloc(max + 1);
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, "read", path);
			g_free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		got += (gsize)n;
		if (got > max) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s grew past %" G_GSIZE_FORMAT " bytes", path,
			            max);
			g_free(buf);
			close(fd);
			return NULL;
		}
	}
	close(fd);
	return g_bytes_new_take(buf, got);
}
