/* cpm_text: text that came from another node, made safe to check and to show.
 *
 * Every string a service receives is someone else's bytes: it may not be
 * UTF-8, may carry terminal escape codes or line breaks that forge a log line,
 * and may be far longer than its field. This module answers three questions:
 * is it UTF-8 (cpm_text_utf8_valid), is it an identifier of the expected form
 * (tickets, slugs, member ids, ...), and what may be printed in its place
 * (cpm_text_escape). Pure functions, no allocation: callers pass every
 * buffer. */
#ifndef CPM_TEXT_H
#define CPM_TEXT_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>

#define CPM_TEXT_TICKET_MAX 64  /* "<PREFIX>-<digits>" */
#define CPM_TEXT_PREFIX_MAX 16  /* ticket_prefix: A-Z and 0-9 */
#define CPM_TEXT_SLUG_MAX 64    /* category, area: a-z 0-9 _ - */
#define CPM_TEXT_MEMBER_MAX 127 /* member ids: A-Z a-z 0-9 . - _ */
#define CPM_TEXT_LABEL_MAX 64   /* rule ids, client refs: A-Z a-z 0-9 . _ : - */
#define CPM_TEXT_CODE_LEN 10    /* lookup codes: Crockford base32 */

/* true when s[0..len) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequences. */
CPM_MUST_CHECK bool cpm_text_utf8_valid(const char *s, size_t len);

/* A ticket "<PREFIX>-<1 to 20 digits>", at most CPM_TEXT_TICKET_MAX bytes,
 * where PREFIX is 1 to 16 of A-Z 0-9. With prefix (not NULL), PREFIX must be
 * exactly it. */
CPM_MUST_CHECK bool cpm_text_ticket_valid(const char *s, const char *prefix);

/* A slug: 1 to 64 of a-z 0-9 _ -, starting with a letter or digit. */
CPM_MUST_CHECK bool cpm_text_slug_valid(const char *s);

/* A member id: 1 to 127 of A-Z a-z 0-9 . - _, not starting with '.'. */
CPM_MUST_CHECK bool cpm_text_member_valid(const char *s);

/* A label (rule id, client reference): 1 to 64 of A-Z a-z 0-9 . _ : -. */
CPM_MUST_CHECK bool cpm_text_label_valid(const char *s);

/* A lookup code: exactly CPM_TEXT_CODE_LEN of 0-9 A-H J K M N P-T V-Z. */
CPM_MUST_CHECK bool cpm_text_code_valid(const char *s);

/* Check a free-text field: valid UTF-8 (else CPM_E_INVALID), present when
 * required (CPM_E_INVALID), at most max bytes (CPM_E_TOO_LARGE). 0 or the
 * code, with err naming field; the message never repeats the value. */
CPM_MUST_CHECK int cpm_text_check(cpm_error_t *err, const char *field, const char *s, size_t max,
                                  bool required);

/* Write s[0..len) into out (cap bytes, cap >= 1, always NUL-terminated) so
 * that it is one line of printable text: \n \r \t and \\ become two-character
 * escapes, other C0 controls, DEL and C1 controls become \xNN (each byte),
 * bytes that are not valid UTF-8 become \xNN, and the Unicode line separators
 * and bidirectional overrides become \uXXXX. Valid UTF-8 text (Vietnamese
 * included) is copied as it is. Stops before an escape or a character that
 * would not fit, so the result is never cut inside one. Returns the bytes
 * written (without the NUL). */
size_t cpm_text_escape(const char *s, size_t len, char *out, size_t cap);

/* cpm_text_escape of a NUL-terminated s (NULL reads as "") into buf; returns
 * buf, for use as a printf argument. */
const char *cpm_text_esc(const char *s, char *buf, size_t cap);

/* true when s would be changed by cpm_text_escape. */
bool cpm_text_needs_escape(const char *s, size_t len);

/* The n strings of parts one after the other into out (cap bytes, always
 * NUL-terminated when cap >= 1), cut short where snprintf would cut them
 * (by bytes: a UTF-8 character may be cut); true when it all fitted. For
 * hot paths where a "%s%s..." snprintf cost more than the copies. */
bool cpm_text_join(char *out, size_t cap, const char *const *parts, size_t n);

#endif
