/* SPDX-License-Identifier: MIT */
/*
 * The caller-side path: an event handed to the kernel by the thread that
 * submits it, or held for the next caller that waits (ioe_submit_local(),
 * ioe_wait_word()).
 */
#ifndef IOE_CALLER_SUBMIT_H
#define IOE_CALLER_SUBMIT_H

#include <signal.h>
#include "driver.h"

/*
 * ioe_submit_local() with IO in flight: ev waits in the held queue for the
 * next caller of ioe_wait_word(), which hands the held events to the kernel
 * (ioe_submit_held()): their completions then wake that caller directly, and
 * the submitter sleeps on, as fio's own io_uring engine works from its one
 * thread. (On a virtual machine with few vCPUs, work on another vCPU, even
 * a thread that only wakes up often, takes a large share of the virtual
 * disk's throughput.) A round's worth is handed over at once, by the thread
 * that holds the last of it, so that the disk starts on it while the caller
 * queues more, rather than after the caller's next wait begins.
 */
void ioe_hold(struct ioe_driver *d, struct ioe_event *ev);
/* Hand the held events to the kernel from the calling thread, every signal blocked. */
void ioe_submit_held(struct ioe_driver *d, struct ioe_cb_batch *cbb);
/*
 * The drivers' submit_local, for an event a caller may submit: held while
 * IO is in flight; else, while the submitter sleeps, handed to the kernel
 * by this thread (waking the submitter would cost more than the
 * submission), and the poller woken, as the caller may never wait for it.
 * Returns 0, or -EAGAIN: queue it.
 */
int ioe_submit_here(struct ioe_driver *d, struct ioe_event *ev);
/* Larger reads and writes are never held nor submitted by a caller: see the drivers' submit_local. */
#define IOE_LOCAL_MAX_BYTES (64 * 1024)
/*
 * Poller, while IO is in flight: held events that no caller took any of for
 * IOE_HOLD_MAX_NS go to the submitter, so that a program that never waits
 * still gets its IO done.
 */
void ioe_held_check(struct ioe_driver *d);

/*
 * The start of a direct submission, the same in both drivers: the fd checked
 * as a submit round checks it, then every signal blocked (the old mask in
 * *old; old NULL: the caller blocked them already), the submission lock
 * held and a free slot taken. Returns the slot;
 * NULL with *ret = 0 when ev is already done (a bad fd: ev->res is set), or
 * with *ret = -EAGAIN when ev must be queued. Signals are blocked and the
 * lock held only when a slot is returned.
 */
struct ioe_slot_link *ioe_direct_begin(struct ioe_driver *d, struct ioe_event *ev, sigset_t *old, int *ret);

#endif
