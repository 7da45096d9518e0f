/* diag.h — the built-in "diag" process and its glow.Diag resource.
 *
 * Layer: services. Echo (with an optional delay, to exercise deadlines),
 * Source (a server stream with credit flow control) and Measure (this node
 * calls another node's Diag and reports latency, call rate or stream
 * throughput: `glow ping`, tests and bench/ use it). Runs as a process of
 * its own (resource GLOW_RESOURCE_DIAG_PROCESS) that can be terminated;
 * its stop hook aborts every call it still has open.
 */
#pragma once

#include "node/resource.h"

/* Starts the diag process on t; calls it makes leave through t's rpc. */
GlowProcess *glow_diag_start(GlowResourceTable *t, GMainContext *ctx, GError **error);
