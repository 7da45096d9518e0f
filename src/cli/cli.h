/* cli.h — what the glow tool's command files share: the command table
 * entry, the session with the local node, and one-line error reporting. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "glow/client.h"
#include "rpc/iface.h"
#include "rpc/rpc.h"
#include "wire/nodeid.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,  /* the node answered with an error, or the call failed */
	EXIT_USAGE = 2,
	EXIT_NO_DAEMON = 3,
};

typedef struct {
	char *state_dir;
	char *socket;
	gboolean json;
	guint timeout_ms;
	GMainContext *ctx;
	GlowClient *client;
} Cli;

typedef struct {
	const char *name;
	const char *args;
	const char *help;
	int (*run)(Cli *cli, int argc, char **argv);
	int min_args, max_args;
} Command;

int fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints e (as JSON too with --json); returns the exit status for it. */
int fail_error(Cli *cli, GError *e);
void print_message_json(const ProtobufCMessage *m);
gboolean ensure_client(Cli *cli, GError **error);
gboolean call_sync(Cli *cli, const GlowAddr *dst, const char *iface, const char *method, const ProtobufCMessage *in,
                   ProtobufCMessage **out, GError **error);
GlowAddr local_node(Cli *cli);
gboolean resolve_node(Cli *cli, const char *text, GlowNodeId *out, GError **error);

/* cmd_user.c */
int cmd_init(Cli *cli, int argc, char **argv);
int cmd_invite(Cli *cli, int argc, char **argv);
int cmd_join(Cli *cli, int argc, char **argv);
int cmd_name(Cli *cli, int argc, char **argv);
int cmd_peers(Cli *cli, int argc, char **argv);
int cmd_config(Cli *cli, int argc, char **argv);
