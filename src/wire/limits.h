/* limits.h — every wire constant and limit of Glow in one place.
 *
 * Layer: wire. Changing a value here changes the protocol or a resource
 * bound; docs/firefly.md quotes these numbers and must change with them.
 */
#pragma once

/* Firefly packets (docs/firefly.md "Packet header"). */
#define GLOW_PACKET_VERSION 1
#define GLOW_PACKET_HEADER_LEN 112
#define GLOW_PACKET_MAX_PAYLOAD (1024 * 1024)  /* 1 MiB */
#define GLOW_PACKET_MAX_LEN (GLOW_PACKET_HEADER_LEN + GLOW_PACKET_MAX_PAYLOAD)
#define GLOW_HOP_LIMIT_DEFAULT 16

/* Link records (docs/firefly.md "Link layer"). */
#define GLOW_LINK_PROLOGUE "glow-link-v1"
#define GLOW_LINK_NOISE_PROTOCOL "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define GLOW_LINK_SIG_CONTEXT "glow-link-v1 noise static"
#define GLOW_LINK_MAX_RECORD 65535                /* bytes after the length prefix (type + ciphertext) */
#define GLOW_LINK_MAX_RECORD_PLAIN (GLOW_LINK_MAX_RECORD - 1 - 16) /* type byte + tag */
#define GLOW_LINK_MAX_HELLO 1024                  /* handshake payload bytes */
#define GLOW_LINK_REKEY_RECORDS (1u << 20)        /* rekey after this many records sent */
#define GLOW_LINK_REKEY_SECONDS 600               /* ... or this long since the last rekey */
#define GLOW_LINK_KEEPALIVE_MS 2000               /* send a ping after this long idle */
#define GLOW_LINK_DEAD_MS 6000                    /* no record for this long: link is dead */
#define GLOW_LINK_HANDSHAKE_MS 5000               /* a handshake must finish within this */
#define GLOW_LINK_MAX_PENDING_HANDSHAKES 64       /* inbound handshakes in progress, per node */
#define GLOW_LINK_MAX_LINKS 1024
#define GLOW_LINK_SENDQ_MAX (8u * 1024 * 1024)    /* bytes queued per link before back-pressure */

/* Control socket. */
#define GLOW_CONTROL_SOCKET_NAME "glowd.sock"
#define GLOW_CONTROL_MAX_CLIENTS 128
#define GLOW_CONTROL_SENDQ_MAX (16u * 1024 * 1024)

/* RPC. */
#define GLOW_RPC_DEFAULT_DEADLINE_MS 10000
#define GLOW_RPC_MAX_DEADLINE_MS (24u * 3600 * 1000)
#define GLOW_RPC_MAX_CALLS_PER_PEER 4096          /* calls in progress per caller node (then TOO_FAST) */
#define GLOW_RPC_STREAM_WINDOW 32                 /* default initial credit, items */

/* Resource ids with a fixed meaning on every node. */
#define GLOW_RESOURCE_NODE 0
#define GLOW_RESOURCE_CORE_PROCESS 1
#define GLOW_RESOURCE_DIAG_PROCESS 2
#define GLOW_RESOURCE_DIAG 3
#define GLOW_RESOURCE_FIRST_DYNAMIC 16
#define GLOW_RESOURCE_EPHEMERAL_BASE 0x8000000000000000ull /* caller endpoints */
