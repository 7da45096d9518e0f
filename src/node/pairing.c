/* pairing.c — enrolling a new device in this node's user (glow invite /
 * glow join), and the glow.Pairing resource that answers joiners.
 *
 * An invite code is 12 base32 characters, "IIII-SSSS-SSSS": the first 4
 * are the invite id (20 bits, public: LAN beacons carry it so the joiner
 * finds the inviter), the whole code is the CPace password (link/cpace.h).
 * The joiner proves it knows the code and learns that the inviter knows
 * it, without either sending it: a wrong guess costs the guesser one of
 * GLOW_INVITE_MAX_ATTEMPTS runs, after which the invite is void. Only then
 * does the inviter send the user key and a certificate for the joiner,
 * sealed under a key from the CPace session. docs/users.md has the
 * messages byte by byte.
 */
#include <string.h>

#include "glow/common.pb-c.h"
#include "glow/node.pb-c.h"
#include "glow/user.pb-c.h"
#include "link/cpace.h"
#include "node/node-internal.h"

#define G_LOG_DOMAIN_NODE "glowd"
#define log_msg(...) g_log(G_LOG_DOMAIN_NODE, G_LOG_LEVEL_MESSAGE, __VA_ARGS__)

#define CODE_ID_CHARS 4
#define CODE_CHARS 12
#define CODE_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define INVITE_TTL_DEFAULT_S 600
#define INVITE_TTL_MAX_S 3600
#define MAX_INVITES 4
#define MAX_PAIR_SESSIONS 8
#define PAIR_STARTS_PER_SEC 4
#define PAIR_SESSION_MS 30000
#define JOIN_TIMEOUT_DEFAULT_MS 20000
#define JOIN_TIMEOUT_MAX_MS 120000
#define JOIN_POLL_MS 200
#define JOIN_OTHER_CANDIDATE_MS 3000 /* after a beacon candidate failed: wait this long for another */
#define CI_LABEL "glow-pair-v1"
#define KEY_LEN 32

struct GlowInvite {
	GlowNode *node;
	guint32 id;
	char code[CODE_CHARS + 1];  /* cleaned: no dashes */
	guint64 expires_ms;         /* wall clock */
	guint attempts;
	GlowCall *stream;           /* the Invite call; NULL once ended */
	GSource *timer;
};

typedef struct {
	guint64 id;
	GlowInvite *invite;
	GlowNodeId joiner;
	char *joiner_name;
	uint8_t confirm_joiner[KEY_LEN], seal[KEY_LEN];
	gint64 created_us;
} PairSession;

static guint64 wall_ms(void)
{
	return (guint64)(g_get_real_time() / 1000);
}

/* --- code text ------------------------------------------------------------------------ */

static void make_code(char out[CODE_CHARS + 1], guint32 *id)
{
	*id = 0;
	for (int i = 0; i < CODE_CHARS; i++) {
		guint32 v = randombytes_uniform(32);
		out[i] = CODE_ALPHABET[v];
		if (i < CODE_ID_CHARS)
			*id = (*id << 5) | v;
	}
	out[CODE_CHARS] = 0;
	if (!*id) /* 0 means "no invite" in beacons */
		make_code(out, id);
}

static void pretty_code(const char *code, char out[CODE_CHARS + 3])
{
	g_snprintf(out, CODE_CHARS + 3, "%.4s-%.4s-%.4s", code, code + 4, code + 8);
}

/* Cleans what a person typed (case, dashes, look-alikes: nodeid.h). */
static gboolean parse_code(const char *text, char out[CODE_CHARS + 1], guint32 *id)
{
	char clean[64];
	if (glow_node_id_clean(text, clean, sizeof clean) != CODE_CHARS)
		return FALSE;
	*id = 0;
	for (int i = 0; i < CODE_ID_CHARS; i++)
		*id = (*id << 5) | (guint32)(strchr(CODE_ALPHABET, clean[i]) - CODE_ALPHABET);
	memcpy(out, clean, CODE_CHARS + 1);
	return *id != 0;
}

/* --- keys ---------------------------------------------------------------------------- */

static void derive(const uint8_t isk[GLOW_CPACE_ISK_LEN], const char *label, uint8_t out[KEY_LEN])
{
	crypto_generichash(out, KEY_LEN, (const uint8_t *)label, strlen(label), isk, GLOW_CPACE_ISK_LEN);
}

/* CI = label || joiner || inviter: a run is bound to the two nodes the
 * links authenticated, so nobody can relay it between other nodes. */
static gboolean cpace_setup(GlowCpace *c, const char *code, const GlowNodeId *joiner, const GlowNodeId *inviter)
{
	uint8_t ci[sizeof CI_LABEL - 1 + 64];
	memcpy(ci, CI_LABEL, sizeof CI_LABEL - 1);
	memcpy(ci + sizeof CI_LABEL - 1, joiner->b, 32);
	memcpy(ci + sizeof CI_LABEL - 1 + 32, inviter->b, 32);
	return glow_cpace_init(c, (const uint8_t *)code, CODE_CHARS, ci, sizeof ci, NULL, 0);
}

/* --- invites (the inviter's side) ------------------------------------------------------ */

static void invite_event(GlowInvite *inv, const Glow__InviteEvent *ev)
{
	if (inv->stream && !glow_call_stream_send(inv->stream, &ev->base))
		return;
}

static void invite_end(GlowInvite *inv, const char *joined_id, const char *joined_name, const char *error)
{
	GlowNode *n = inv->node;
	Glow__InviteEvent ev = GLOW__INVITE_EVENT__INIT;

	if (inv->stream) {
		ev.joined_id = (char *)(joined_id ? joined_id : "");
		ev.joined_name = (char *)(joined_name ? joined_name : "");
		ev.error = (char *)(error ? error : "");
		invite_event(inv, &ev);
		glow_call_stream_end(inv->stream);
		inv->stream = NULL;
	}
	g_ptr_array_remove(n->invites, inv);
}

static void invite_free(gpointer p)
{
	GlowInvite *inv = p;
	if (inv->timer) {
		g_source_destroy(inv->timer);
		g_source_unref(inv->timer);
	}
	if (inv->stream) {
		glow_call_error(inv->stream, GLOW_ERR_UNAVAILABLE, "the node is stopping");
		inv->stream = NULL;
	}
	/* Sessions of this invite die with it. */
	for (guint i = 0; inv->node->pair_sessions && i < inv->node->pair_sessions->len;) {
		PairSession *s = inv->node->pair_sessions->pdata[i];
		if (s->invite == inv)
			g_ptr_array_remove_index_fast(inv->node->pair_sessions, i);
		else
			i++;
	}
	sodium_memzero(inv->code, sizeof inv->code);
	g_free(inv);
}

static void pair_session_free(gpointer p)
{
	PairSession *s = p;
	g_free(s->joiner_name);
	sodium_memzero(s, sizeof *s);
	g_free(s);
}

static gboolean invite_expired(gpointer data)
{
	GlowInvite *inv = data;
	g_source_unref(inv->timer);
	inv->timer = NULL;
	log_msg("invite %.4s expired unused", inv->code);
	invite_end(inv, NULL, NULL, "the invite expired");
	return G_SOURCE_REMOVE;
}

static void invite_cancelled(GlowCall *call, gpointer data)
{
	GlowInvite *inv = data;
	(void)call;
	inv->stream = NULL;
	log_msg("invite %.4s withdrawn", inv->code);
	g_ptr_array_remove(inv->node->invites, inv);
}

/* Addresses a joiner elsewhere could dial: explicit listen addresses, and
 * for wildcard listeners every non-loopback address of this machine. */
static GPtrArray *invite_addresses(GlowNode *n)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) local = glow_local_addresses();

	for (guint i = 0; i < n->listen_addrs->len && out->len < 4; i++) {
		const char *a = n->listen_addrs->pdata[i], *colon = strrchr(a, ':');
		gboolean wild = g_str_has_prefix(a, "0.0.0.0:") || g_str_has_prefix(a, "[::]:");
		if (!colon)
			continue;
		if (!wild) {
			g_ptr_array_add(out, g_strdup(a));
			continue;
		}
		for (guint k = 0; k < local->len && out->len < 4; k++)
			g_ptr_array_add(out, g_strdup_printf("%s%s", (const char *)local->pdata[k], colon));
	}
	return out;
}

static void node_invite(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__InviteRequest *req = (const Glow__InviteRequest *)in;
	Glow__InviteEvent ev = GLOW__INVITE_EVENT__INIT;
	guint ttl = req->ttl_s ? req->ttl_s : INVITE_TTL_DEFAULT_S;
	char pretty[CODE_CHARS + 3], id[GLOW_NODE_ID_TEXT_BUF];
	g_autoptr(GPtrArray) addrs = NULL;
	g_autoptr(GString) link = g_string_new(NULL);
	GlowInvite *inv;

	if (!n->user->has_secret) {
		glow_call_error(call, GLOW_ERR_PERMISSION_DENIED,
		                "this node holds no user key, so it cannot invite; invite from another of your devices");
		return;
	}
	if (ttl > INVITE_TTL_MAX_S) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "an invite lasts at most %d s", INVITE_TTL_MAX_S);
		return;
	}
	if (n->invites->len >= MAX_INVITES) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "%d invites are open already", MAX_INVITES);
		return;
	}
	inv = g_new0(GlowInvite, 1);
	inv->node = n;
	make_code(inv->code, &inv->id);
	inv->expires_ms = wall_ms() + (guint64)ttl * 1000;
	inv->stream = call;
	inv->timer = g_timeout_source_new(ttl * 1000); /* not _seconds: those may fire a second late */
	g_source_set_callback(inv->timer, invite_expired, inv, NULL);
	g_source_attach(inv->timer, n->ctx);
	g_ptr_array_add(n->invites, inv);
	glow_call_set_handlers(call, NULL, invite_cancelled, inv);

	pretty_code(inv->code, pretty);
	glow_node_id_to_text(&n->identity->id, id);
	g_string_append_printf(link, "glow://invite/%s?node=%s", pretty, id);
	addrs = invite_addresses(n);
	for (guint i = 0; i < addrs->len; i++)
		g_string_append_printf(link, "&addr=%s", (const char *)addrs->pdata[i]);
	ev.code = pretty;
	ev.link = link->str;
	ev.expires_ms = inv->expires_ms;
	log_msg("invite %.4s open for %u s", inv->code, ttl);
	invite_event(inv, &ev);
	glow_discovery_changed(n);
}

GlowInvite *glow_pairing_open_invite(GlowNode *n, guint32 *id)
{
	GlowInvite *inv = n->invites->len ? n->invites->pdata[0] : NULL;
	if (inv && id)
		*id = inv->id;
	return inv;
}

/* --- glow.Pairing (the inviter answers) ------------------------------------------------- */

static GlowInvite *find_invite(GlowNode *n, guint32 id)
{
	for (guint i = 0; i < n->invites->len; i++) {
		GlowInvite *inv = n->invites->pdata[i];
		if (inv->id == id)
			return inv;
	}
	return NULL;
}

static void expire_sessions(GlowNode *n)
{
	gint64 now = g_get_monotonic_time();
	for (guint i = 0; i < n->pair_sessions->len;) {
		PairSession *s = n->pair_sessions->pdata[i];
		if (now - s->created_us > PAIR_SESSION_MS * 1000)
			g_ptr_array_remove_index_fast(n->pair_sessions, i);
		else
			i++;
	}
}

static void pairing_start(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__PairStart *req = (const Glow__PairStart *)in;
	const GlowNodeId *joiner = &glow_call_caller(call)->node;
	Glow__PairChallenge out = GLOW__PAIR_CHALLENGE__INIT;
	uint8_t share[GLOW_CPACE_SHARE_LEN], isk[GLOW_CPACE_ISK_LEN], confirm[KEY_LEN];
	GlowInvite *inv = find_invite(n, req->invite_id);
	GlowCpace c;
	PairSession *s;
	char jid[8];
	gboolean ok;

	expire_sessions(n);
	glow_node_id_short(joiner, jid);
	/* A bound on runs of any kind, before the invite is looked up: finding
	 * an invite id by trying them all (2^20) takes days at this rate. */
	if (g_get_monotonic_time() - n->pair_rate_start_us > G_USEC_PER_SEC) {
		n->pair_rate_start_us = g_get_monotonic_time();
		n->pair_rate_count = 0;
	}
	if (++n->pair_rate_count > PAIR_STARTS_PER_SEC) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "too many pairing attempts here; try again in a second");
		return;
	}
	if (!inv || wall_ms() >= inv->expires_ms) {
		glow_call_error(call, GLOW_ERR_NOT_FOUND, "no open invite with that code here (expired, used or mistyped)");
		return;
	}
	if (req->share.len != GLOW_CPACE_SHARE_LEN) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "a pairing share is %d bytes", GLOW_CPACE_SHARE_LEN);
		return;
	}
	if (n->pair_sessions->len >= MAX_PAIR_SESSIONS) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "too many pairings in progress; try again in a moment");
		return;
	}
	/* Every run is a guess, right or wrong: counted before anything else. */
	if (++inv->attempts > GLOW_INVITE_MAX_ATTEMPTS) {
		log_msg("invite %.4s: too many attempts (last from %s); the invite is void", inv->code, jid);
		glow_call_error(call, GLOW_ERR_PERMISSION_DENIED, "too many attempts: this invite is void");
		invite_end(inv, NULL, NULL, "too many wrong attempts: the invite is void");
		return;
	}
	ok = cpace_setup(&c, inv->code, joiner, &n->identity->id) &&
	     glow_cpace_message(&c, n->identity->id.b, 32, share) &&
	     glow_cpace_finish(&c, FALSE, req->share.data, joiner->b, 32, isk);
	glow_cpace_clear(&c);
	if (!ok) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "invalid pairing share");
		return;
	}
	s = g_new0(PairSession, 1);
	randombytes_buf(&s->id, sizeof s->id);
	s->invite = inv;
	s->joiner = *joiner;
	s->joiner_name = g_utf8_make_valid(req->name ? req->name : "", (gssize)MIN(strlen(req->name ? req->name : ""), 64));
	s->created_us = g_get_monotonic_time();
	derive(isk, "glow-pair-v1 confirm inviter", confirm);
	derive(isk, "glow-pair-v1 confirm joiner", s->confirm_joiner);
	derive(isk, "glow-pair-v1 seal", s->seal);
	sodium_memzero(isk, sizeof isk);
	g_ptr_array_add(n->pair_sessions, s);

	out.session = s->id;
	out.share.data = share;
	out.share.len = sizeof share;
	out.confirm.data = confirm;
	out.confirm.len = sizeof confirm;
	out.name = n->name;
	glow_call_reply(call, &out.base);
}

static PairSession *find_session(GlowNode *n, guint64 id, const GlowNodeId *joiner)
{
	for (guint i = 0; i < n->pair_sessions->len; i++) {
		PairSession *s = n->pair_sessions->pdata[i];
		if (s->id == id && glow_node_id_equal(&s->joiner, joiner))
			return s;
	}
	return NULL;
}

/* PairSecrets sealed: nonce (24) || XChaCha20-Poly1305 ciphertext. */
static GBytes *seal_secrets(GlowNode *n, PairSession *s, GBytes *cert)
{
	Glow__PairSecrets sec = GLOW__PAIR_SECRETS__INIT;
	uint8_t seed[32];
	gsize len;
	uint8_t *plain, *out;
	unsigned long long clen;

	glow_user_seed(n->user, seed);
	sec.user_secret.data = seed;
	sec.user_secret.len = sizeof seed;
	sec.cert.data = (uint8_t *)g_bytes_get_data(cert, &sec.cert.len);
	len = glow__pair_secrets__get_packed_size(&sec);
	plain = g_malloc(len);
	glow__pair_secrets__pack(&sec, plain);
	sodium_memzero(seed, sizeof seed);
	out = g_malloc(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + len + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	randombytes_buf(out, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, plain, len,
	                                           NULL, 0, NULL, out, s->seal);
	sodium_memzero(plain, len);
	g_free(plain);
	return g_bytes_new_take(out, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (gsize)clen);
}

static void pairing_finish(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__PairFinish *req = (const Glow__PairFinish *)in;
	const GlowNodeId joiner_id = glow_call_caller(call)->node; /* a copy: replying frees the call */
	const GlowNodeId *joiner = &joiner_id;
	Glow__PairWelcome out = GLOW__PAIR_WELCOME__INIT;
	PairSession *s = find_session(n, req->session, joiner);
	g_autoptr(GBytes) cert = NULL, sealed = NULL;
	char jid[GLOW_NODE_ID_TEXT_BUF];
	GlowInvite *inv;
	g_autofree char *name = NULL;

	if (!s) {
		glow_call_error(call, GLOW_ERR_NOT_FOUND, "no such pairing in progress (it may have expired)");
		return;
	}
	inv = s->invite;
	if (req->confirm.len != KEY_LEN || sodium_memcmp(req->confirm.data, s->confirm_joiner, KEY_LEN) != 0) {
		/* A wrong code: this run's guess is spent. */
		g_ptr_array_remove(n->pair_sessions, s);
		glow_call_error(call, GLOW_ERR_PERMISSION_DENIED, "wrong invite code");
		return;
	}
	cert = glow_user_issue_cert(n->user, joiner, wall_ms());
	sealed = seal_secrets(n, s, cert);
	glow_book_set_cert(n->book, joiner, g_bytes_get_data(cert, NULL), g_bytes_get_size(cert), NULL);
	glow_book_set_name(n->book, joiner, s->joiner_name);
	name = g_strdup(s->joiner_name);
	g_ptr_array_remove(n->pair_sessions, s);

	out.sealed.data = (uint8_t *)g_bytes_get_data(sealed, &out.sealed.len);
	glow_call_reply(call, &out.base);
	glow_node_id_to_text(joiner, jid);
	log_msg("device \"%s\" %s joined this user", name, jid);
	invite_end(inv, jid, name, NULL);
	glow_peers_announce(n);
	glow_discovery_changed(n);
}

static void pairing_introduce(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__DeviceCert *c = (const Glow__DeviceCert *)in;
	const GlowNodeId *from = &glow_call_caller(call)->node;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	g_autoptr(GError) e = NULL;
	gsize len = glow__device_cert__get_packed_size(c);
	g_autofree uint8_t *buf = NULL;

	if (len > GLOW_DEVICE_CERT_MAX) {
		glow_call_error(call, GLOW_ERR_TOO_BIG, "a device certificate is at most %d bytes", GLOW_DEVICE_CERT_MAX);
		return;
	}
	buf = g_malloc(len + 1);
	glow__device_cert__pack(c, buf);
	if (!glow_book_set_cert(n->book, from, buf, len, &e)) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "%s", e->message);
		return;
	}
	glow_call_reply(call, &empty.base);
}

static const GlowHandlerEntry pairing_handlers[] = {
	{ "Start", pairing_start, GLOW_ACCESS_PUBLIC },
	{ "Finish", pairing_finish, GLOW_ACCESS_PUBLIC },
	{ "Introduce", pairing_introduce, GLOW_ACCESS_PUBLIC },
	{ NULL, NULL, GLOW_ACCESS_USER },
};

/* --- joining (the new device's side) --------------------------------------------------------- */

typedef struct JoinOp {
	GlowNode *node;
	GlowCall *call;
	char code[CODE_CHARS + 1];
	guint32 invite_id;
	GlowNodeId inviter;
	gboolean has_inviter;
	GPtrArray *addrs;        /* to dial, in order */
	guint next_addr;
	gboolean linking;
	gboolean started;        /* Start sent */
	GlowCpace cpace;
	uint8_t seal[KEY_LEN];
	char *inviter_name;
	GSource *poll, *deadline;
	guint64 rpc_call;
	guint64 gen;             /* which join this is (JoinDial) */
	gboolean by_beacon;      /* the inviter came from a beacon (not named by the user) */
	GPtrArray *rejected;     /* GlowNodeId*: beacon candidates that did not know the code */
	gboolean wrong_code;     /* one did not: if no other shows up, the code is wrong */
} JoinOp;

static void join_free(JoinOp *j)
{
	GlowNode *n = j->node;
	if (j->poll) {
		g_source_destroy(j->poll);
		g_source_unref(j->poll);
	}
	if (j->deadline) {
		g_source_destroy(j->deadline);
		g_source_unref(j->deadline);
	}
	if (j->rpc_call)
		glow_rpc_cancel(n->rpc, j->rpc_call);
	glow_cpace_clear(&j->cpace);
	sodium_memzero(j->code, sizeof j->code);
	sodium_memzero(j->seal, sizeof j->seal);
	g_ptr_array_unref(j->addrs);
	g_ptr_array_unref(j->rejected);
	g_free(j->inviter_name);
	if (n->join == j)
		n->join = NULL;
	g_free(j);
}

static void join_fail(JoinOp *j, GlowErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void join_fail(JoinOp *j, GlowErrorCode code, const char *fmt, ...)
{
	va_list ap;
	g_autofree char *msg = NULL;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (j->call)
		glow_call_error(j->call, code, "%s", msg);
	j->call = NULL;
	join_free(j);
}

static void join_cancelled(GlowCall *call, gpointer data)
{
	JoinOp *j = data;
	(void)call;
	j->call = NULL;
	join_free(j);
}

static gboolean join_timeout(gpointer data)
{
	JoinOp *j = data;
	g_source_unref(j->deadline);
	j->deadline = NULL;
	if (j->wrong_code) {
		join_fail(j, GLOW_ERR_PERMISSION_DENIED, "wrong invite code (or not the device that made it)");
		return G_SOURCE_REMOVE;
	}
	join_fail(j, GLOW_ERR_TIMEOUT,
	          j->has_inviter ? "the inviting device did not answer in time"
	                         : "no device with an open invite %.4s was found on this LAN "
	                           "(give its address: glow join CODE --via HOST:PORT, or use the invite link)",
	          j->code);
	return G_SOURCE_REMOVE;
}

static guint32 method_id(GlowNode *n, const char *iface_name, const char *method, guint32 *iface_id)
{
	const GlowInterface *iface = glow_iface_by_name(n->reg, iface_name);
	*iface_id = iface->id;
	return glow_iface_method_by_name(iface, method)->id;
}

static gboolean join_call(JoinOp *j, const char *method, const ProtobufCMessage *msg, GlowResponseFn fn)
{
	GlowNode *n = j->node;
	GlowAddr src = { .node = n->identity->id, .resource = GLOW_RESOURCE_NODE };
	GlowAddr dst = { .node = j->inviter, .resource = GLOW_RESOURCE_PAIRING };
	GlowCallOptions opt = { .deadline_ms = 10000 };
	g_autofree uint8_t *buf = g_malloc(protobuf_c_message_get_packed_size(msg));
	gsize len = protobuf_c_message_pack(msg, buf);
	g_autofree char *err = NULL;
	GlowErrorCode code;
	guint32 iface;
	guint32 mid = method_id(n, "glow.Pairing", method, &iface);

	j->rpc_call = glow_rpc_call(n->rpc, &src, &dst, iface, mid, buf, len, &opt, fn, j, &code, &err);
	if (!j->rpc_call) {
		join_fail(j, code, "cannot reach the inviting device: %s", err);
		return FALSE;
	}
	return TRUE;
}

static void on_welcome(const GlowResponse *r, gpointer data)
{
	JoinOp *j = data;
	GlowNode *n = j->node;
	Glow__PairWelcome *w;
	Glow__PairSecrets *sec = NULL;
	Glow__JoinReply reply = GLOW__JOIN_REPLY__INIT;
	const gsize np = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	g_autofree uint8_t *plain = NULL;
	g_autoptr(GBytes) cert = NULL;
	g_autoptr(GError) e = NULL;
	unsigned long long plen;
	char inviter[GLOW_NODE_ID_TEXT_BUF], user[GLOW_NODE_ID_TEXT_BUF];

	j->rpc_call = 0;
	if (r->type == GLOW_PKT_ERROR) {
		join_fail(j, r->code, "%s", r->message);
		return;
	}
	w = glow__pair_welcome__unpack(NULL, r->len, r->payload);
	if (!w || w->sealed.len < np + crypto_aead_xchacha20poly1305_ietf_ABYTES || w->sealed.len > 16384) {
		if (w)
			glow__pair_welcome__free_unpacked(w, NULL);
		join_fail(j, GLOW_ERR_BAD_REQUEST, "the inviting device sent a malformed welcome");
		return;
	}
	plain = g_malloc(w->sealed.len);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, w->sealed.data + np, w->sealed.len - np, NULL,
	                                               0, w->sealed.data, j->seal) != 0 ||
	    !(sec = glow__pair_secrets__unpack(NULL, (size_t)plen, plain)) || sec->user_secret.len != 32 ||
	    !sec->cert.len) {
		glow__pair_welcome__free_unpacked(w, NULL);
		if (sec)
			glow__pair_secrets__free_unpacked(sec, NULL);
		sodium_memzero(plain, w->sealed.len);
		join_fail(j, GLOW_ERR_BAD_REQUEST, "the inviting device's welcome does not open");
		return;
	}
	cert = g_bytes_new(sec->cert.data, sec->cert.len);
	if (!glow_user_adopt(n->user, n->cfg.state_dir, n->identity, sec->user_secret.data, cert, &e)) {
		sodium_memzero(sec->user_secret.data, 32);
		glow__pair_secrets__free_unpacked(sec, NULL);
		glow__pair_welcome__free_unpacked(w, NULL);
		sodium_memzero(plain, (size_t)plen);
		join_fail(j, GLOW_ERR_INTERNAL, "cannot join: %s", e->message);
		return;
	}
	sodium_memzero(sec->user_secret.data, 32);
	sodium_memzero(plain, (size_t)plen);
	glow__pair_secrets__free_unpacked(sec, NULL);
	glow__pair_welcome__free_unpacked(w, NULL);
	glow_book_set_own_user(n->book, &n->user->key);
	glow_node_id_to_text(&j->inviter, inviter);
	glow_node_id_to_text(&n->user->key, user);
	log_msg("joined user %s, invited by \"%s\" %s", user, j->inviter_name, inviter);
	/* The inviter's certificate is on its link's hello already; what it
	 * knows of the user's other devices comes by Sync as the link shows us
	 * as one of them now. */
	glow_peers_relink_user(n);
	reply.inviter_id = inviter;
	reply.inviter_name = j->inviter_name ? j->inviter_name : (char *)"";
	reply.user_id = user;
	glow_call_reply(j->call, &reply.base);
	j->call = NULL;
	join_free(j);
}

static void on_challenge(const GlowResponse *r, gpointer data)
{
	JoinOp *j = data;
	Glow__PairChallenge *ch;
	Glow__PairFinish fin = GLOW__PAIR_FINISH__INIT;
	uint8_t isk[GLOW_CPACE_ISK_LEN], confirm_inviter[KEY_LEN], confirm_joiner[KEY_LEN];
	gboolean ok;

	j->rpc_call = 0;
	if (r->type == GLOW_PKT_ERROR) {
		join_fail(j, r->code, "%s", r->message);
		return;
	}
	ch = glow__pair_challenge__unpack(NULL, r->len, r->payload);
	if (!ch || ch->share.len != GLOW_CPACE_SHARE_LEN || ch->confirm.len != KEY_LEN) {
		if (ch)
			glow__pair_challenge__free_unpacked(ch, NULL);
		join_fail(j, GLOW_ERR_BAD_REQUEST, "the inviting device sent a malformed challenge");
		return;
	}
	ok = glow_cpace_finish(&j->cpace, TRUE, ch->share.data, j->inviter.b, 32, isk);
	if (ok) {
		derive(isk, "glow-pair-v1 confirm inviter", confirm_inviter);
		derive(isk, "glow-pair-v1 confirm joiner", confirm_joiner);
		derive(isk, "glow-pair-v1 seal", j->seal);
		ok = sodium_memcmp(confirm_inviter, ch->confirm.data, KEY_LEN) == 0;
	}
	sodium_memzero(isk, sizeof isk);
	g_free(j->inviter_name);
	j->inviter_name = g_utf8_make_valid(ch->name ? ch->name : "", (gssize)MIN(strlen(ch->name ? ch->name : ""), 64));
	fin.session = ch->session;
	glow__pair_challenge__free_unpacked(ch, NULL);
	if (!ok && j->by_beacon) {
		/* Either the code is mistyped or this is not the device that made
		 * it (anyone can repeat an invite id in a beacon): nothing of ours
		 * was revealed either way. Another node carrying the id may be the
		 * real one; if none shows up soon, the code was wrong. */
		g_ptr_array_add(j->rejected, g_memdup2(&j->inviter, sizeof j->inviter));
		j->started = j->has_inviter = j->by_beacon = FALSE;
		g_ptr_array_set_size(j->addrs, 0);
		j->next_addr = 0;
		j->wrong_code = TRUE;
		if (j->deadline) {
			g_source_destroy(j->deadline);
			g_source_unref(j->deadline);
		}
		j->deadline = g_timeout_source_new(JOIN_OTHER_CANDIDATE_MS);
		g_source_set_callback(j->deadline, join_timeout, j, NULL);
		g_source_attach(j->deadline, j->node->ctx);
		return;
	}
	if (!ok) {
		join_fail(j, GLOW_ERR_PERMISSION_DENIED, "wrong invite code (or not the device that made it)");
		return;
	}
	fin.confirm.data = confirm_joiner;
	fin.confirm.len = KEY_LEN;
	join_call(j, "Finish", &fin.base, on_welcome);
}

static void join_start(JoinOp *j)
{
	Glow__PairStart st = GLOW__PAIR_START__INIT;
	uint8_t share[GLOW_CPACE_SHARE_LEN];

	if (j->started)
		return;
	j->started = TRUE;
	if (!cpace_setup(&j->cpace, j->code, &j->node->identity->id, &j->inviter) ||
	    !glow_cpace_message(&j->cpace, j->node->identity->id.b, 32, share)) {
		join_fail(j, GLOW_ERR_INTERNAL, "pairing could not start");
		return;
	}
	st.invite_id = j->invite_id;
	st.share.data = share;
	st.share.len = sizeof share;
	st.name = j->node->name;
	join_call(j, "Start", &st.base, on_challenge);
}

static void join_dial_next(JoinOp *j);

/* A dial outlives the join that made it (nothing cancels it): its callback
 * carries the join's generation, so it never touches a later join that
 * happens to sit at the same address. */
typedef struct {
	guint64 gen;
} JoinDial;

static void on_join_linked(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error, gpointer data)
{
	g_autofree JoinDial *dial = data;
	JoinOp *j = n->join;
	if (!j || j->gen != dial->gen)
		return; /* the join ended meanwhile */
	j->linking = FALSE;
	if (code == GLOW_OK) {
		j->inviter = *glow_link_peer(link);
		j->has_inviter = TRUE;
		join_start(j);
		return;
	}
	if (code == GLOW_ERR_CANCELLED)
		return;
	g_message("join: %s: %s", (const char *)j->addrs->pdata[j->next_addr - 1], error);
	join_dial_next(j);
}

static void join_dial_next(JoinOp *j)
{
	if (j->linking || j->started)
		return;
	if (j->has_inviter && glow_node_link_to(j->node, &j->inviter)) {
		join_start(j);
		return;
	}
	if (j->next_addr >= j->addrs->len)
		return; /* wait for a beacon (poll) or the deadline */
	j->linking = TRUE;
	JoinDial *dial = g_new(JoinDial, 1);
	dial->gen = j->gen;
	glow_node_connect(j->node, j->addrs->pdata[j->next_addr++], j->has_inviter ? &j->inviter : NULL, NULL, 5000,
	                  on_join_linked, dial);
}

/* Looks for the inviter on the LAN (beacons carrying the invite id), or
 * in the mesh when the link named it. */
static gboolean join_poll(gpointer data)
{
	JoinOp *j = data;
	GlowNodeId id;
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
	gboolean direct;

	if (j->started || j->linking)
		return G_SOURCE_CONTINUE;
	if (j->has_inviter && glow_router_next_hop(j->node->router, &j->inviter, &direct)) {
		join_start(j);
		return G_SOURCE_CONTINUE;
	}
	if (glow_discovery_find_invite(j->node, j->invite_id, j->rejected, &id, found) && found->len) {
		if (j->has_inviter && !glow_node_id_equal(&id, &j->inviter))
			return G_SOURCE_CONTINUE;
		j->inviter = id;
		j->has_inviter = TRUE;
		j->by_beacon = TRUE;
		for (guint i = 0; i < found->len; i++)
			g_ptr_array_add(j->addrs, g_strdup(found->pdata[i]));
		join_dial_next(j);
	}
	return G_SOURCE_CONTINUE;
}

/* "glow://invite/CODE?node=ID&addr=H:P&addr=..." or a bare code. */
static gboolean parse_join(JoinOp *j, const char *text, char **why)
{
	g_auto(GStrv) parts = NULL;
	const char *code = text;
	g_autofree char *code_part = NULL;

	if (g_str_has_prefix(text, "glow://invite/")) {
		const char *q = strchr(text + 14, '?');
		code_part = q ? g_strndup(text + 14, (gsize)(q - text - 14)) : g_strdup(text + 14);
		code = code_part;
		parts = q ? g_strsplit(q + 1, "&", 16) : NULL;
		for (guint i = 0; parts && parts[i]; i++) {
			if (g_str_has_prefix(parts[i], "node=")) {
				if (glow_node_id_from_text(parts[i] + 5, &j->inviter) != GLOW_ID_OK) {
					*why = g_strdup("the invite link's node ID is damaged (mistyped?)");
					return FALSE;
				}
				j->has_inviter = TRUE;
			} else if (g_str_has_prefix(parts[i], "addr=") && strlen(parts[i]) < 80) {
				g_ptr_array_add(j->addrs, g_strdup(parts[i] + 5));
			}
		}
	}
	if (!parse_code(code, j->code, &j->invite_id)) {
		*why = g_strdup_printf("\"%s\" is not an invite code (12 letters and digits 2-7, like ABCD-EFGH-JKLM)",
		                       code);
		return FALSE;
	}
	return TRUE;
}

static void node_join(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__JoinRequest *req = (const Glow__JoinRequest *)in;
	guint timeout = req->timeout_ms ? MIN(req->timeout_ms, (guint)JOIN_TIMEOUT_MAX_MS) : JOIN_TIMEOUT_DEFAULT_MS;
	g_autofree char *why = NULL;
	JoinOp *j;

	if (n->join) {
		glow_call_error(call, GLOW_ERR_TOO_FAST, "a join is in progress already");
		return;
	}
	j = g_new0(JoinOp, 1);
	j->node = n;
	j->addrs = g_ptr_array_new_with_free_func(g_free);
	j->rejected = g_ptr_array_new_with_free_func(g_free);
	if (!parse_join(j, req->code ? req->code : "", &why)) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "%s", why);
		join_free(j);
		return;
	}
	if (req->via && *req->via)
		g_ptr_array_insert(j->addrs, 0, g_strdup(req->via));
	j->call = call;
	j->gen = ++n->join_gen;
	n->join = j;
	glow_call_set_handlers(call, NULL, join_cancelled, j);
	j->deadline = g_timeout_source_new(timeout);
	g_source_set_callback(j->deadline, join_timeout, j, NULL);
	g_source_attach(j->deadline, n->ctx);
	j->poll = g_timeout_source_new(JOIN_POLL_MS);
	g_source_set_callback(j->poll, join_poll, j, NULL);
	g_source_attach(j->poll, n->ctx);
	join_dial_next(j);
	if (n->join == j) /* it may have ended already (a call that could not start) */
		join_poll(j);
}

/* --- the rest of the user's methods ------------------------------------------------------ */

static void node_create_user(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	Glow__InitReply out = GLOW__INIT_REPLY__INIT;
	g_autoptr(GError) e = NULL;
	char uid[GLOW_NODE_ID_TEXT_BUF];
	(void)in;

	if (!glow_user_create(n->user, n->cfg.state_dir, n->identity, &e)) {
		glow_call_error(call, GLOW_ERR_INTERNAL, "%s", e->message);
		return;
	}
	glow_book_set_own_user(n->book, &n->user->key);
	glow_node_id_to_text(&n->user->key, uid);
	log_msg("this node is now the first device of a new user %s", uid);
	glow_peers_relink_user(n);
	out.user_id = uid;
	glow_call_reply(call, &out.base);
}

gboolean glow_pairing_start(GlowNode *n, GError **error)
{
	n->invites = g_ptr_array_new_with_free_func(invite_free);
	n->pair_sessions = g_ptr_array_new_with_free_func(pair_session_free);
	return glow_resource_add(n->core, GLOW_RESOURCE_PAIRING, "pairing", "glow.Pairing", pairing_handlers, n, error) !=
	       NULL;
}

void glow_pairing_stop(GlowNode *n)
{
	if (n->join)
		join_fail(n->join, GLOW_ERR_UNAVAILABLE, "the node is stopping");
	if (n->invites)
		g_ptr_array_unref(n->invites);
	n->invites = NULL;
	if (n->pair_sessions)
		g_ptr_array_unref(n->pair_sessions);
	n->pair_sessions = NULL;
}

/* Node methods that live here, for node_service.c's table. */
void glow_pairing_node_invite(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	node_invite(call, in, data);
}

void glow_pairing_node_join(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	node_join(call, in, data);
}

void glow_pairing_node_create_user(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	node_create_user(call, in, data);
}
