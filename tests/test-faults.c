/*
 * libipc tests: faults while messages flow.  Short writes and EAGAIN on
 * every write (socket buffers shrunk to the kernel's minimum), a storm of
 * signals interrupting every system call, and peers killed with SIGKILL
 * at random points.  Whatever happens, no message accepted by
 * ipc_schedule() (or written by ipc_write()) is lost, duplicated,
 * reordered or damaged for the peers that stay: every message carries its
 * sender, its sequence number and a checksum of its bytes.
 *
 * The service runs in the test process; its clients are libipc clients in
 * forked children.  The signal is SIGUSR2 (SIGALRM is the fixture's
 * watchdog).  Random choices come from g_test_rand_*(): --seed replays
 * them.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "faults"

/* Messages each way, per client; fewer under valgrind (20x slower). */
#define COUNT 300
#define COUNT_VALGRIND 60
/* Payload sizes: 12 to MAX_SIZE bytes. */
#define MAX_SIZE (48 * 1024)
/* Messages scheduled and not yet written whole, per connection: enough to
 * keep the socket full, well under the high-water mark (4 MiB), so that
 * neither side stops reading the other. */
#define WINDOW 16
/* One signal every STORM_NS. */
#define STORM_NS (100 * 1000)
/* The header of every payload: sequence number, sender, checksum. */
#define HEAD 12

static guint count(void)
{
	return ipc_test_under_valgrind() ? COUNT_VALGRIND : COUNT;
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

static guint32 mix(guint32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* FNV-1a over @len bytes. */
static guint32 checksum(const guint8 *p, size_t len)
{
	guint32 h = 2166136261U;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619U;
	return h;
}

static void put32(guint8 *p, guint32 v)
{
	v = GUINT32_TO_BE(v);
	memcpy(p, &v, sizeof(v));
}

static guint32 get32(const guint8 *p)
{
	guint32 v;

	memcpy(&v, p, sizeof(v));
	return GUINT32_FROM_BE(v);
}

/* Message @seq from sender @id: its size and bytes follow from both. */
static void message_make(GByteArray *out, guint32 id, guint32 seq)
{
	size_t size = HEAD + mix(id * 7919U + seq) % (MAX_SIZE - HEAD + 1);

	g_byte_array_set_size(out, (guint)size);
	ipc_test_fill(out->data + HEAD, size - HEAD, mix(id ^ (seq << 8)));
	put32(out->data, seq);
	put32(out->data + 4, id);
	put32(out->data + 8, checksum(out->data + HEAD, size - HEAD));
}

/* Checks a received message: from @id, number @seq, bytes intact. */
static void message_check(const void *data, size_t len, guint32 id,
			  guint32 seq)
{
	const guint8 *p = data;

	g_assert_cmpuint(len, >=, HEAD);
	if (get32(p) != seq)
		g_test_message("from %u: message %u where %u was due", id,
			       get32(p), seq);
	g_assert_cmpuint(get32(p), ==, seq);
	g_assert_cmpuint(get32(p + 4), ==, id);
	g_assert_cmpuint(get32(p + 8), ==, checksum(p + HEAD, len - HEAD));
}

/* The sender id of a received message. */
static guint32 message_sender(const void *data, size_t len)
{
	g_assert_cmpuint(len, >=, HEAD);
	return get32((const guint8 *)data + 4);
}

/* ------------------------------------------------------------------ */
/* Streams: each side sends count() numbered messages                   */
/* ------------------------------------------------------------------ */

/* The ids of the service's streams start here; a client's id is its
 * number. */
#define SERVICE_ID 1000

struct stream {
	int fd;
	guint32 out_id;		/* sender id of what we send */
	guint32 in_id;		/* of what we receive (G_MAXUINT32: unknown) */
	guint sent;		/* messages sent */
	guint scheduled;	/* of which with ipc_schedule() */
	guint tx;		/* MESSAGE_TX events */
	guint rx;		/* messages received */
	guint write_every;	/* every nth message with ipc_write(), or 0 */
	GByteArray *buf;
};

static void stream_init(struct stream *s, int fd, guint32 out_id,
			guint32 in_id)
{
	*s = (struct stream){ .fd = fd, .out_id = out_id, .in_id = in_id };
	s->buf = g_byte_array_new();
}

static void stream_clear(struct stream *s)
{
	g_clear_pointer(&s->buf, g_byte_array_unref);
}

/* Sends while fewer than WINDOW messages wait to be written.  FALSE when
 * the connection is closing (its peer died). */
static gboolean stream_send(void *ctx, struct stream *s)
{
	while (s->sent < count() && s->scheduled - s->tx < WINDOW) {
		int ret;

		message_make(s->buf, s->out_id, s->sent);
		if (s->write_every && s->sent % s->write_every == 0) {
			ret = ipc_write(ctx, s->fd, (char *)s->buf->data,
					s->buf->len);
		} else {
			ret = ipc_schedule(ctx, s->fd, (char *)s->buf->data,
					   s->buf->len);
			if (!ret)
				s->scheduled++;
		}
		if (ret == -EPIPE)
			return FALSE;
		g_assert_cmpint(ret, ==, 0);
		s->sent++;
	}
	return TRUE;
}

static void stream_receive(struct stream *s, const void *data, size_t len)
{
	if (s->in_id == G_MAXUINT32)
		s->in_id = message_sender(data, len);
	message_check(data, len, s->in_id, s->rx++);
}

/* All sent, all written, all received. */
static gboolean stream_done(const struct stream *s)
{
	return s->sent == count() && s->tx == s->scheduled &&
	       s->rx == count();
}

/* ------------------------------------------------------------------ */
/* Faults                                                               */
/* ------------------------------------------------------------------ */

enum fault {
	FAULT_TINY_BUFFERS = 1 << 0,
	FAULT_SIGNALS = 1 << 1,
};

/*
 * Shrinks both socket buffers of @fd to the kernel's minimum (it rounds
 * the 1 asked for up to a few KiB), so that writes of larger messages are
 * short and most meet EAGAIN.
 */
static void shrink_buffers(int fd)
{
	int size = 1, got = 0;
	socklen_t len = sizeof(got);

	g_assert_no_errno(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size,
				     sizeof(size)));
	g_assert_no_errno(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
				     sizeof(size)));
	g_assert_no_errno(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len));
	g_assert_cmpint(got, <, MAX_SIZE / 4);
}

static gint signals_caught;

static void on_signal(int sig)
{
	(void)sig;
	g_atomic_int_inc(&signals_caught);
}

struct storm {
	pthread_t target;
	pthread_t thread;
	gint stop;
	guint sent;
};

static void *storm_thread(void *data)
{
	struct storm *st = data;
	const struct timespec pause = { 0, STORM_NS };

	while (!g_atomic_int_get(&st->stop)) {
		g_assert_cmpint(pthread_kill(st->target, SIGUSR2), ==, 0);
		st->sent++;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* Starts sending SIGUSR2 to this thread every STORM_NS; its handler does
 * nothing and has no SA_RESTART, so blocking calls fail with EINTR.
 * Returns once the first signal was caught: on a loaded machine the
 * storm thread may otherwise not run before the exchange is over. */
static void storm_start(struct storm *st)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	g_assert_no_errno(sigaction(SIGUSR2, &sa, NULL));
	g_atomic_int_set(&signals_caught, 0);
	st->target = pthread_self();
	st->stop = 0;
	st->sent = 0;
	g_assert_cmpint(pthread_create(&st->thread, NULL, storm_thread, st),
			==, 0);
	while (!g_atomic_int_get(&signals_caught))
		g_usleep(1000);
}

static void storm_stop(struct storm *st)
{
	g_atomic_int_set(&st->stop, 1);
	g_assert_cmpint(pthread_join(st->thread, NULL), ==, 0);
	/* Ignored, not default: a signal still pending must not kill us. */
	signal(SIGUSR2, SIG_IGN);
}

/* ipc_wait_event(), waiting past EINTR; returns how often it was
 * interrupted. */
static guint wait_event(void *ctx, struct ipc_test_event *ev)
{
	guint interrupted = 0;
	int ret;

	while ((ret = ipc_test_wait_raw(ctx, ev, MAX_SIZE)) == -EINTR) {
		g_assert_cmpint(ev->type, ==, ERROR);
		interrupted++;
	}
	if (ret)
		g_test_message("ipc_wait_event: %s", g_strerror(-ret));
	g_assert_cmpint(ret, ==, 0);
	return interrupted;
}

/* ------------------------------------------------------------------ */
/* A client and the service                                             */
/* ------------------------------------------------------------------ */

struct client_plan {
	guint32 id;
	enum fault faults;
};

#define BYE "bye"

/* Child: exchanges its streams with the service, then waits for BYE.
 * Reads every 16th message with ipc_read_fd() and writes every 8th with
 * ipc_write() (blocking calls, retried by the library after EINTR). */
static void client_child(void *arg)
{
	const struct client_plan *plan = arg;
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *buf = g_malloc(MAX_SIZE);
	struct storm st;
	struct stream s;
	void *ctx = NULL;
	int fd = -1, ret;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	if (plan->faults & FAULT_SIGNALS)
		storm_start(&st);
	while ((ret = ipc_connect_service(ctx, &fd, NAME, strlen(NAME))) ==
	       -EINTR)
		;
	g_assert_cmpint(ret, ==, 0);
	if (plan->faults & FAULT_TINY_BUFFERS)
		shrink_buffers(fd);
	stream_init(&s, fd, plan->id, SERVICE_ID + plan->id);
	s.write_every = 8;
	while (!stream_done(&s)) {
		g_assert_true(stream_send(ctx, &s));
		if (s.rx % 16 == 15 && s.rx < count()) {
			size_t len = MAX_SIZE;

			g_assert_cmpint(ipc_read_fd(ctx, fd, buf, &len), ==, 0);
			stream_receive(&s, buf, len);
			continue;
		}
		wait_event(ctx, &ev);
		g_assert_cmpint(ev.fd, ==, fd);
		if (ev.type == MESSAGE_TX) {
			s.tx++;
			continue;
		}
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				ipc_test_event_name(MESSAGE_RX));
		stream_receive(&s, ev.data, ev.len);
	}
	wait_event(ctx, &ev);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
			ipc_test_event_name(MESSAGE_RX));
	g_assert_cmpmem(ev.data, ev.len, BYE, strlen(BYE));
	if (plan->faults & FAULT_SIGNALS) {
		storm_stop(&st);
		/* The storm did hit the loop. */
		g_assert_cmpint(g_atomic_int_get(&signals_caught), >, 0);
	}
	stream_clear(&s);
	ipc_context_deinit(&ctx);
}

/* The service's view of one client. */
struct peer {
	struct stream s;
	pid_t pid;
	guint kill_at;		/* kill when this many were received, or 0 */
	gboolean bye;		/* BYE scheduled */
	gboolean gone;
	gboolean killed;
};

struct service {
	void *ctx;
	int svc;
	GHashTable *peers;	/* fd -> struct peer */
	struct peer *by_id;	/* by client id */
	guint n;
	guint interrupted;
	guint gone;
};

static void service_connection(struct service *sv, int fd, enum fault faults)
{
	struct peer *p = g_new0(struct peer, 1);

	if (faults & FAULT_TINY_BUFFERS)
		shrink_buffers(fd);
	/* The client's id is known from its first message. */
	stream_init(&p->s, fd, G_MAXUINT32, G_MAXUINT32);
	g_hash_table_insert(sv->peers, GINT_TO_POINTER(fd), p);
}

/* Once a peer's id is known, it is matched to its plan. */
static struct peer *service_claim(struct service *sv, struct peer *p)
{
	struct peer *plan;

	if (p->s.out_id != G_MAXUINT32)
		return p;
	g_assert_cmpuint(p->s.in_id, <, sv->n);
	plan = &sv->by_id[p->s.in_id];
	p->s.out_id = SERVICE_ID + p->s.in_id;
	p->pid = plan->pid;
	p->kill_at = plan->kill_at;
	return p;
}

static void service_message(struct service *sv, struct peer *p,
			    const struct ipc_test_event *ev)
{
	stream_receive(&p->s, ev->data, ev->len);
	service_claim(sv, p);
	if (p->kill_at && p->s.rx == p->kill_at && !p->killed) {
		g_assert_no_errno(kill(p->pid, SIGKILL));
		p->killed = TRUE;
	}
}

/* Sends what the windows allow; BYE to clients that are done. */
static void service_send(struct service *sv)
{
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, sv->peers);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		struct peer *p = value;

		if (p->gone || p->s.out_id == G_MAXUINT32)
			continue;
		if (!stream_send(sv->ctx, &p->s)) {
			g_assert_true(p->killed);
			continue;
		}
		if (!p->bye && !p->kill_at && stream_done(&p->s)) {
			g_assert_cmpint(ipc_schedule(sv->ctx, p->s.fd, BYE,
						     strlen(BYE)), ==, 0);
			p->bye = TRUE;
		}
	}
}

static void service_event(struct service *sv, struct ipc_test_event *ev,
			  enum fault faults)
{
	struct peer *p = g_hash_table_lookup(sv->peers,
					     GINT_TO_POINTER(ev->fd));

	switch (ev->type) {
	case CONNECTION:
		g_assert_cmpint(ev->fd, ==, sv->svc);
		service_connection(sv, ev->newfd, faults);
		break;
	case MESSAGE_RX:
		g_assert_nonnull(p);
		g_assert_false(p->gone);
		service_message(sv, p, ev);
		break;
	case MESSAGE_TX:
		g_assert_nonnull(p);
		/* BYE's TX is the one after the stream's. */
		if (p->s.tx < p->s.scheduled)
			p->s.tx++;
		else
			g_assert_true(p->bye);
		break;
	case DISCONNECTION:
		g_assert_nonnull(p);
		g_assert_false(p->gone);
		/* Only a killed client leaves before its BYE. */
		if (!p->killed) {
			g_assert_true(p->bye);
			g_assert_true(stream_done(&p->s));
		}
		p->gone = TRUE;
		sv->gone++;
		break;
	default:
		g_test_message("unexpected %s", ipc_test_event_name(ev->type));
		g_assert_not_reached();
	}
}

static void peer_free(gpointer data)
{
	struct peer *p = data;

	stream_clear(&p->s);
	g_free(p);
}

/*
 * @clients clients exchange their streams with the service under @faults;
 * @victims of them are killed with SIGKILL after the service has received
 * a random number of their messages.
 */
static void run_service(Fixture *f, guint clients, guint victims,
			enum fault faults)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct service sv = { .ctx = f->ctx, .n = clients };
	struct client_plan *plans = g_new0(struct client_plan, clients);
	struct storm st;
	guint killed = 0;

	sv.svc = ipc_test_service_init(f->ctx, NAME);
	sv.peers = g_hash_table_new_full(NULL, NULL, NULL, peer_free);
	sv.by_id = g_new0(struct peer, clients);
	for (guint i = 0; i < clients; i++) {
		plans[i].id = i;
		plans[i].faults = faults;
		if (i < victims)
			sv.by_id[i].kill_at = (guint)g_test_rand_int_range(
				1, (gint32)count());
		sv.by_id[i].pid = ipc_test_fork(client_child, &plans[i]);
	}
	if (faults & FAULT_SIGNALS)
		storm_start(&st);
	while (sv.gone < clients) {
		service_send(&sv);
		sv.interrupted += wait_event(f->ctx, &ev);
		service_event(&sv, &ev, faults);
	}
	if (faults & FAULT_SIGNALS) {
		storm_stop(&st);
		g_test_message("%u signals sent to the service, %d caught, "
			       "%u waits interrupted", st.sent,
			       g_atomic_int_get(&signals_caught),
			       sv.interrupted);
		g_assert_cmpint(g_atomic_int_get(&signals_caught), >, 0);
	}
	for (guint i = 0; i < clients; i++) {
		if (i < victims) {
			ipc_test_reap_signaled(sv.by_id[i].pid, SIGKILL);
			g_test_message("client %u killed after %u messages", i,
				       sv.by_id[i].kill_at);
			killed++;
		} else {
			ipc_test_reap(sv.by_id[i].pid);
		}
	}
	g_assert_cmpuint(killed, ==, victims);
	g_hash_table_unref(sv.peers);
	g_free(sv.by_id);
	g_free(plans);
}

struct faults_case {
	guint clients;
	guint victims;
	enum fault faults;
};

static void test_faults(Fixture *f, gconstpointer data)
{
	const struct faults_case *c = data;

	run_service(f, c->clients, c->victims, c->faults);
}

static const struct faults_case tiny = { 2, 0, FAULT_TINY_BUFFERS };
static const struct faults_case storm = { 2, 0, FAULT_SIGNALS };
static const struct faults_case tiny_storm = {
	2, 0, FAULT_TINY_BUFFERS | FAULT_SIGNALS
};
static const struct faults_case sigkill = { 8, 4, 0 };
static const struct faults_case everything = {
	8, 4, FAULT_TINY_BUFFERS | FAULT_SIGNALS
};

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, data) \
	IPC_TEST_ADD("/ipc/faults/" path, test_faults, data)
	ADD("short-writes", &tiny);
	ADD("eintr-storm", &storm);
	ADD("short-writes-eintr-storm", &tiny_storm);
	ADD("sigkill", &sigkill);
	ADD("all", &everything);
#undef ADD

	return g_test_run();
}
