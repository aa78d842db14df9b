/* routing_fold: what cpm_bizname_fold gives for a text (lower-case ASCII
 * letters and digits, diacritics dropped, anything else one space), computed
 * a character at a time instead of normalising the whole text first.
 *
 * Every complaint's description is folded for its themes (routing_themes.h):
 * u8_normalize of a few hundred bytes was a tenth of the instructions routing
 * spends on a complaint. The fold keeps only the starters of the canonical
 * decomposition that are ASCII letters or digits, and drops the marks
 * U+0300-U+036F; canonical reordering only moves marks among marks, none of
 * which is kept; so folding each character's own full decomposition in turn
 * gives the same bytes (tests/unit/test_routing_fold.c compares the two over
 * every code point). Text that is not valid UTF-8 goes to cpm_bizname_fold.
 * No sockets. */
#ifndef ROUTING_FOLD_H
#define ROUTING_FOLD_H

#include <stddef.h>

/* text (len bytes) folded into out (cap bytes, terminated); its length. */
size_t routing_fold(const char *text, size_t len, char *out, size_t cap);

#endif
