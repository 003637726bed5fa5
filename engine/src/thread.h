/* SPDX-License-Identifier: MIT */
/* Starting the engine's own threads (submitters, pollers, callback workers). */
#ifndef IOE_THREAD_H
#define IOE_THREAD_H

#include <pthread.h>

/* Engine threads block every signal and carry a name for top -H. */
int ioe_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

#endif
