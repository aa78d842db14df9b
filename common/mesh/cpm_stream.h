/* cpm_stream: the one home of stream names.
 *
 * A stream carries records from one member's service to another's, in order:
 *   "<from member>/<from service>><to member>/<to service>"
 * e.g. "hn.a.hoan-kiem/intake>hn.doit/routing". The receiver keeps its mark
 * (high-water mark) under the stream's name for epoch 0, else under
 * "<stream>@<epoch as 16 hex digits>", so that a sender whose store was
 * created anew (numbering from 1 again under a new epoch) gets a fresh mark
 * instead of having its records taken for duplicates. Every place
 * that builds, reads or marks a stream name goes through here. */
#ifndef CPM_STREAM_H
#define CPM_STREAM_H

#include "cpm_err.h"

#include <stddef.h>
#include <stdint.h>

/* Room for any stream name, and for its mark name, with the NUL. */
#define CPM_STREAM_MAX 320
#define CPM_STREAM_MARK_MAX (CPM_STREAM_MAX + 18)
#define CPM_STREAM_MEMBER_MAX 128
#define CPM_STREAM_SERVICE_MAX 32

typedef struct {
    char member[CPM_STREAM_MEMBER_MAX];
    char service[CPM_STREAM_SERVICE_MAX];
} cpm_stream_end_t;

typedef struct {
    cpm_stream_end_t from, to;
} cpm_stream_parts_t;

/* The name of the stream from from_member/from_service to to_member/to_service
 * into out. 0, CPM_E_INVALID when a part is empty or holds '/' or '>', or
 * CPM_E_TOO_LARGE when it does not fit in n. */
CPM_MUST_CHECK int cpm_stream_build(char *out, size_t n, const char *from_member,
                                    const char *from_service, const char *to_member,
                                    const char *to_service);
/* Split a stream name into its four parts. 0, or CPM_E_INVALID when it is
 * not of the form above or a part does not fit. */
CPM_MUST_CHECK int cpm_stream_parse(const char *stream, cpm_stream_parts_t *out);
/* One end, "<member>/<service>" (e.g. a server's own name), into out. 0 or
 * CPM_E_INVALID. */
CPM_MUST_CHECK int cpm_stream_parse_end(const char *end, cpm_stream_end_t *out);
/* The name the receiver's mark for (stream, epoch) is kept under. 0 or
 * CPM_E_TOO_LARGE (out is then truncated). */
CPM_MUST_CHECK int cpm_stream_mark(const char *stream, uint64_t epoch, char *out, size_t n);
/* "<from member>/": the prefix every stream (and mark) of that sending member
 * starts with, for per-sender accounting. 0 or CPM_E_INVALID. */
CPM_MUST_CHECK int cpm_stream_sender_prefix(const char *stream, char *out, size_t n);

#endif
