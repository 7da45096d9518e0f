/* qr.c — QR codes for the terminal (see qr.h). */
#include "cli/qr.h"

#include <errno.h>
#include <qrencode.h>
#include <string.h>

#define UPPER "\u2580"
#define LOWER "\u2584"
#define FULL "\u2588"

/* Light at (x, y) in quiet-zone coordinates: the quiet zone is light. */
static gboolean light(const QRcode *qr, int x, int y)
{
	int mx = x - GLOW_QR_QUIET, my = y - GLOW_QR_QUIET;

	if (mx < 0 || my < 0 || mx >= qr->width || my >= qr->width)
		return TRUE;
	return !(qr->data[my * qr->width + mx] & 1);
}

static void render_utf8(const QRcode *qr, GString *out)
{
	int size = qr->width + 2 * GLOW_QR_QUIET;

	for (int y = 0; y < size; y += 2) {
		for (int x = 0; x < size; x++) {
			gboolean top = light(qr, x, y);
			/* Below the last row of an odd size: nothing, not quiet zone,
			 * so the symbol's bottom margin is as wide as its top. */
			gboolean bottom = y + 1 < size && light(qr, x, y + 1);
			g_string_append(out, top && bottom ? FULL : top ? UPPER : bottom ? LOWER : " ");
		}
		g_string_append_c(out, '\n');
	}
}

static void render_ascii(const QRcode *qr, GString *out)
{
	int size = qr->width + 2 * GLOW_QR_QUIET;

	for (int y = 0; y < size; y++) {
		for (int x = 0; x < size; x++)
			g_string_append(out, light(qr, x, y) ? "##" : "  ");
		g_string_append_c(out, '\n');
	}
}

static void set_encode_error(int err, GError **error)
{
	if (err == ERANGE)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
			    "too long for a QR code");
	else
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make a QR code: %s",
			    g_strerror(err));
}

char *glow_qr_render(const char *text, gboolean utf8, GError **error)
{
	if (text == NULL || *text == '\0') {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "nothing to encode");
		return NULL;
	}
	errno = 0;
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL) {
		set_encode_error(errno, error);
		return NULL;
	}
	GString *out = g_string_new(NULL);
	if (utf8)
		render_utf8(qr, out);
	else
		render_ascii(qr, out);
	QRcode_free(qr);
	return g_string_free(out, FALSE);
}
