/* cpm_err: error codes shared by every module and carried on the wire.
 *
 * Functions return 0 on success or one of these codes. The numeric values are
 * part of the protocol (ErrorReply.code, Ack.error_code): they follow HTTP so
 * that a client in any language can read them without a table. */
#ifndef CPM_ERR_H
#define CPM_ERR_H

#include <stddef.h>

/* On every function whose result matters (0/-1, an error code, a verdict or
 * an owned pointer): ignoring it is how failures went silent before. A (void)
 * cast does not silence it; handle the result. */
#define CPM_MUST_CHECK __attribute__((warn_unused_result))

typedef enum {
    CPM_OK = 0,
    CPM_E_INVALID = 400,     /* a field of the request is wrong; see field */
    CPM_E_FORBIDDEN = 403,   /* the sender may not do this */
    CPM_E_NOT_FOUND = 404,   /* no such ticket / member / file */
    CPM_E_CONFLICT = 409,    /* the request contradicts the current state */
    CPM_E_TOO_LARGE = 413,   /* message or field over its size limit */
    CPM_E_BAD_MESSAGE = 422, /* cannot be decoded */
    CPM_E_INTERNAL = 500,    /* a bug or an unexpected library failure */
    CPM_E_UNAVAILABLE = 503, /* retryable: peer down, try again */
    CPM_E_TIMEOUT = 504,     /* retryable: no answer in time */
    CPM_E_STORE_FULL = 507,  /* retryable: LMDB map full; nothing was applied */
    CPM_E_STORE_IO = 508,    /* retryable: the disk failed; nothing was applied */
} cpm_err_t;

/* A clear error for a human: a code, the field it is about, one sentence. */
typedef struct {
    int code;
    char field[48];
    char message[256];
} cpm_error_t;

/* The name of a code, e.g. "invalid", "store_full". Never NULL. */
const char *cpm_err_name(int code);

/* 1 when a sender should try again later (nothing was applied). */
int cpm_err_retryable(int code);

/* 1 for the store's own failures (CPM_E_STORE_FULL, CPM_E_STORE_IO): the
 * store failed, not the request, which may be sent again as it was. */
int cpm_err_is_store(int code);

/* Fill e (may be NULL) and return code. */
int cpm_error_set(cpm_error_t *e, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
