/* intake_secret: per-thread copies of intake's secrets (a hash state keyed
 * once per key, the last code made with it) kept in guarded memory:
 * sodium_malloc's pages, with guard pages around them, locked against swap
 * where the system allows it (libsodium goes on when mlock fails) and left
 * out of core dumps. Each thread has its own block of a slot, allocated on
 * its first use, wiped and freed by intake_secret_forget on that thread, or
 * when a thread other than the main one exits (key destructors do not run
 * when the main thread returns or calls exit: intake's loop is the main
 * thread, so intake_destroy forgets its copies). */
#ifndef INTAKE_SECRET_H
#define INTAKE_SECRET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    size_t size;
    pthread_mutex_t mu; /* guards ready and key's creation */
    bool ready;
    pthread_key_t key; /* its destructor frees a thread's block at thread exit */
} intake_secret_slot_t;

#define INTAKE_SECRET_SLOT(sz)                                                                     \
    {                                                                                              \
        .size = (sz), .mu = PTHREAD_MUTEX_INITIALIZER                                              \
    }

/* The calling thread's block of slot (all zero when new), remembered in
 * *mine, the caller's _Thread_local pointer. NULL when no memory can be had
 * (the caller then works without keeping anything). */
void *intake_secret_get(intake_secret_slot_t *slot, void **mine);

/* Wipe and free the calling thread's block of slot, if it has one: safe on
 * any thread, any number of times. */
void intake_secret_forget(intake_secret_slot_t *slot, void **mine);

#endif
