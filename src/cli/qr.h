/* qr.h — a QR code drawn with text, for the terminal (the CLI shows a
 * node's id or an invitation so a phone can read it).
 *
 * Layer: CLI only (libqrencode). glow_qr_render() encodes text (version
 * chosen by libqrencode, error correction M, 8-bit mode, case-sensitive)
 * and draws the matrix with a GLOW_QR_QUIET-module quiet zone around it.
 *
 * Polarity: light modules (and the quiet zone) are drawn as ink, dark
 * modules as blank. Ink is the terminal's foreground, which on the usual
 * dark-background terminal is light, so the symbol comes out the right way
 * round there; on a light-background terminal it is inverted, which most
 * phone scanners read too. Drawing dark modules as ink would only work on
 * light-background terminals, and the blank around the code would then be
 * the dark background: no quiet zone at all.
 *
 * utf8 TRUE: half blocks (U+2580 ▀, U+2584 ▄, U+2588 █, space), two module
 * rows per line, one column per module: (size + 1) / 2 lines of size
 * columns, where size = symbol width + 2 * GLOW_QR_QUIET. The last line of
 * an odd size has only its upper half drawn.
 * utf8 FALSE: "##" (light) and "  " (dark) per module, one line per row:
 * size lines of 2 * size characters. Every line ends in '\n'.
 *
 * Errors: empty text, or text more than a version-40 symbol at level M can
 * hold, gives NULL and a G_IO_ERROR (INVALID_ARGUMENT, MESSAGE_TOO_LARGE).
 * The result is g_free()d by the caller.
 */
#pragma once

#include <gio/gio.h>

/* Terminal renderers commonly use 2 (the spec asks for 4); scanners accept it,
 * and a terminal's margin adds to it. */
#define GLOW_QR_QUIET 2

char *glow_qr_render(const char *text, gboolean utf8, GError **error);
