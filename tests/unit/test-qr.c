/* test-qr.c — the terminal QR renderer (src/cli/qr.c).
 *
 * Each rendering is parsed back into a module matrix and compared with
 * libqrencode's own, so the polarity (light = ink) is checked, not just
 * the size. When zbarimg (Debian zbar-tools) is installed the parsed
 * matrix is also written as a PBM and decoded: the text must come back.
 */
#include "cli/qr.h"

#include <glib/gstdio.h>
#include <qrencode.h>
#include <string.h>

#define ADDR "glow://AAAQEAY-EAUDAOB-CAJBIFQ-YDIOB4B-IBCEQTC-QKRMFYX-YDENBWH-A5DYPQG"
/* What libqrencode 4.1 picks for ADDR at level M: version 4, 33 modules. */
#define ADDR_VERSION 4
#define ADDR_WIDTH 33
#define ADDR_SIZE (ADDR_WIDTH + 2 * GLOW_QR_QUIET)
#define MAX_8BIT_M 2331 /* bytes a version-40 symbol holds at level M */
#define PIXELS 4        /* per module in the PBM */

/* Light modules, quiet zone included: size * size booleans. */
typedef struct {
	int size;
	gboolean *light;
} Matrix;

static Matrix matrix_new(int size)
{
	return (Matrix){ .size = size, .light = g_new0(gboolean, (gsize)size * size) };
}

static void matrix_set(Matrix *m, int x, int y, gboolean light)
{
	g_assert_cmpint(x, <, m->size);
	g_assert_cmpint(y, <, m->size);
	m->light[y * m->size + x] = light;
}

/* libqrencode's matrix with our quiet zone around it. */
static Matrix expected(const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	g_assert_nonnull(qr);
	Matrix m = matrix_new(qr->width + 2 * GLOW_QR_QUIET);
	for (int y = 0; y < m.size; y++) {
		for (int x = 0; x < m.size; x++) {
			int mx = x - GLOW_QR_QUIET, my = y - GLOW_QR_QUIET;
			gboolean in = mx >= 0 && my >= 0 && mx < qr->width && my < qr->width;
			matrix_set(&m, x, y, !in || !(qr->data[my * qr->width + mx] & 1));
		}
	}
	QRcode_free(qr);
	return m;
}

static gchar **split_lines(const char *out)
{
	g_assert_true(g_str_has_suffix(out, "\n"));
	g_autofree char *trimmed = g_strndup(out, strlen(out) - 1);
	return g_strsplit(trimmed, "\n", -1);
}

static Matrix parse_utf8(const char *out)
{
	g_auto(GStrv) lines = split_lines(out);
	int size = (int)g_utf8_strlen(lines[0], -1);
	Matrix m = matrix_new(size);

	g_assert_cmpint(g_strv_length(lines), ==, (size + 1) / 2);
	for (int l = 0; lines[l] != NULL; l++) {
		const char *p = lines[l];
		g_assert_cmpint(g_utf8_strlen(p, -1), ==, size);
		for (int x = 0; x < size; x++, p = g_utf8_next_char(p)) {
			gunichar c = g_utf8_get_char(p);
			g_assert_true(c == 0x2588 || c == 0x2580 || c == 0x2584 || c == ' ');
			matrix_set(&m, x, 2 * l, c == 0x2588 || c == 0x2580);
			if (2 * l + 1 < size)
				matrix_set(&m, x, 2 * l + 1, c == 0x2588 || c == 0x2584);
			else
				g_assert_true(c == 0x2580 || c == ' '); /* odd size: top half only */
		}
	}
	return m;
}

static Matrix parse_ascii(const char *out)
{
	g_auto(GStrv) lines = split_lines(out);
	int size = (int)strlen(lines[0]) / 2;
	Matrix m = matrix_new(size);

	g_assert_cmpint(g_strv_length(lines), ==, size);
	for (int y = 0; y < size; y++) {
		g_assert_cmpint(strlen(lines[y]), ==, 2 * size);
		for (int x = 0; x < size; x++) {
			const char *pair = lines[y] + 2 * x;
			g_assert_true(strncmp(pair, "##", 2) == 0 || strncmp(pair, "  ", 2) == 0);
			matrix_set(&m, x, y, pair[0] == '#');
		}
	}
	return m;
}

static void assert_same(const Matrix *got, const Matrix *want)
{
	g_assert_cmpint(got->size, ==, want->size);
	g_assert_cmpmem(got->light, sizeof(gboolean) * got->size * got->size, want->light,
			sizeof(gboolean) * want->size * want->size);
}

/* Plain PBM (P1): 1 is black, i.e. a dark module. */
static char *write_pbm(const Matrix *m)
{
	g_autoptr(GString) s = g_string_new(NULL);
	int px = m->size * PIXELS;
	char *path = NULL;
	int fd = g_file_open_tmp("glow-qr-XXXXXX.pbm", &path, NULL);

	g_assert_cmpint(fd, >=, 0);
	g_string_append_printf(s, "P1\n%d %d\n", px, px);
	for (int y = 0; y < px; y++) {
		for (int x = 0; x < px; x++)
			g_string_append(s, m->light[(y / PIXELS) * m->size + x / PIXELS] ? "0 " : "1 ");
		g_string_append_c(s, '\n');
	}
	g_assert_cmpint(write(fd, s->str, s->len), ==, (gssize)s->len);
	close(fd);
	return path;
}

/* Decodes with zbarimg; NULL when it is not installed. */
static char *zbar_decode(const Matrix *m)
{
	g_autofree char *zbarimg = g_find_program_in_path("zbarimg");
	if (zbarimg == NULL)
		return NULL;
	g_autofree char *pbm = write_pbm(m);
	const char *argv[] = { zbarimg, "--raw", "-q", pbm, NULL };
	char *out = NULL;
	int status = 0;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
				   &out, NULL, &status, &error));
	g_unlink(pbm);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_strchomp(out);
	return out;
}

static void free_matrix(Matrix *m)
{
	g_free(m->light);
}

static void test_utf8_shape(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *out = glow_qr_render(ADDR, TRUE, &error);
	g_assert_no_error(error);
	QRcode *qr = QRcode_encodeString(ADDR, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	g_assert_cmpint(qr->version, ==, ADDR_VERSION);
	g_assert_cmpint(qr->width, ==, ADDR_WIDTH);
	QRcode_free(qr);

	g_auto(GStrv) lines = split_lines(out);
	g_assert_cmpint(g_strv_length(lines), ==, (ADDR_SIZE + 1) / 2); /* 19 */
	for (guint i = 0; lines[i] != NULL; i++)
		g_assert_cmpint(g_utf8_strlen(lines[i], -1), ==, ADDR_SIZE); /* 37 */
	/* Quiet zone: the first line is full blocks, the last upper halves. */
	g_assert_true(g_str_has_prefix(lines[0], "\u2588\u2588\u2588"));
	g_assert_true(g_str_has_prefix(lines[(ADDR_SIZE + 1) / 2 - 1], "\u2580\u2580\u2580"));

	Matrix got = parse_utf8(out), want = expected(ADDR);
	assert_same(&got, &want);
	free_matrix(&got);
	free_matrix(&want);
}

static void test_ascii_shape(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *out = glow_qr_render(ADDR, FALSE, &error);
	g_assert_no_error(error);

	g_auto(GStrv) lines = split_lines(out);
	g_assert_cmpint(g_strv_length(lines), ==, ADDR_SIZE);
	for (guint i = 0; lines[i] != NULL; i++)
		g_assert_cmpint(strlen(lines[i]), ==, 2 * ADDR_SIZE);
	g_assert_true(g_str_has_prefix(lines[0], "####"));

	Matrix got = parse_ascii(out), want = expected(ADDR);
	assert_same(&got, &want);
	free_matrix(&got);
	free_matrix(&want);
}

static void check_decodes(const char *text)
{
	for (int utf8 = 0; utf8 <= 1; utf8++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *out = glow_qr_render(text, utf8, &error);
		g_assert_no_error(error);
		Matrix m = utf8 ? parse_utf8(out) : parse_ascii(out);
		g_autofree char *back = zbar_decode(&m);
		free_matrix(&m);
		if (back == NULL) {
			g_test_skip("zbarimg (zbar-tools) not installed");
			return;
		}
		g_assert_cmpstr(back, ==, text);
	}
}

static void test_decode(void)
{
	check_decodes(ADDR);
	check_decodes("x");
	check_decodes("Mixed Case: abcXYZ 0123 !?");
}

static void test_limits(void)
{
	g_autoptr(GError) error = NULL;
	char *s = g_strnfill(MAX_8BIT_M, 'a');
	char *out = glow_qr_render(s, TRUE, &error);

	g_assert_no_error(error);
	g_assert_nonnull(out);
	g_free(out);
	g_free(s);

	s = g_strnfill(MAX_8BIT_M + 1, 'a');
	g_assert_null(glow_qr_render(s, TRUE, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
	g_clear_error(&error);
	g_free(s);

	s = g_strnfill(100000, 'Z');
	g_assert_null(glow_qr_render(s, FALSE, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
	g_clear_error(&error);
	g_free(s);

	g_assert_null(glow_qr_render("", TRUE, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(glow_qr_render(NULL, TRUE, NULL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/qr/utf8-shape", test_utf8_shape);
	g_test_add_func("/qr/ascii-shape", test_ascii_shape);
	g_test_add_func("/qr/decode", test_decode);
	g_test_add_func("/qr/limits", test_limits);
	return g_test_run();
}
