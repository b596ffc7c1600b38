/*
 * The periodic timer, on the monotonic clock.
 *
 * SPDX-License-Identifier: ISC
 *
 * The timer is checked at every ipc_wait_event() call, before any other
 * event, so a busy context still gets its ticks.  Ticks missed while the
 * program was away are not replayed: the next one is due a full period
 * after the late one.
 */

#include "internal.h"

#include <time.h>

#define NS_PER_MS 1000000ull

uint64_t ipc__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

IPC_EXPORT void ipc_context_timer(void *ctx_, int timer)
{
	struct ipc_ctx *ctx = ctx_;

	if (ipc__ctx_check(ctx) < 0)
		return;
	ctx->timer_ms = timer > 0 ? timer : 0;
	if (timer > 0)
		ctx->timer_next = ipc__now() + (uint64_t)timer * NS_PER_MS;
	if (ctx->embed)
		ipc__embed_timer(ctx);
}

/* True when a tick is due at @now; the next one is then scheduled. */
bool ipc__timer_fire(struct ipc_ctx *ctx, uint64_t now)
{
	uint64_t period = (uint64_t)ctx->timer_ms * NS_PER_MS;

	if (now < ctx->timer_next)
		return false;
	ctx->timer_next += period;
	if (ctx->timer_next <= now)
		ctx->timer_next = now + period;
	return true;
}

/* Milliseconds to wait for the next tick (rounded up), or -1 for none. */
int ipc__timer_timeout(struct ipc_ctx *ctx, uint64_t now)
{
	if (ctx->timer_ms <= 0)
		return -1;
	if (now >= ctx->timer_next)
		return 0;
	return (int)((ctx->timer_next - now + NS_PER_MS - 1) / NS_PER_MS);
}
