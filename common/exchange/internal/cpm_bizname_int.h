/* cpm_bizname internals, for tests that look inside (test_bizname_fold). */
#ifndef CPM_BIZNAME_INT_H
#define CPM_BIZNAME_INT_H

#include <stddef.h>

/* cpm_bizname_fold as first written: the whole text normalised (NFD) with
 * libunistring, then folded. cpm_bizname_fold gives the same bytes a
 * character at a time, and falls back to this for text that is not UTF-8. */
size_t cpm_bizname_fold_reference(const char *name, char *out, size_t cap);

#endif
