/* cpm_ttext: the features of a complaint's text, for the category model.
 *
 * A text is checked (well-formed UTF-8, else CPM_E_INVALID naming the
 * field), put in Unicode NFC and lower case (Vietnamese letters included:
 * "PHỞ" is "phở"), and cut into syllables: runs of letters, digits and
 * combining marks; everything else separates. Tokens of digits only are
 * dropped (phone numbers, amounts and dates say nothing about a category),
 * and so are tokens longer than CPM_TTEXT_TOKEN_MAX bytes.
 *
 * Each syllable gives its folded form (no diacritics, "đ" is "d":
 * cpm_bizname_fold) and, when different, its form with diacritics; each
 * pair of neighbouring syllables gives the folded bigram "ngo doc" and,
 * when different, "ngộ độc". A text typed without accents thus meets the
 * folded features of one typed with them.
 *
 * Cost is bounded: only the first CPM_TTEXT_USE_MAX bytes of each text are
 * used (cut at a character boundary); the whole text is still checked for
 * UTF-8, which is linear. A string ends at its first NUL.
 *
 * Ownership: a cpm_ttext_t owns copies of its features; the strings
 * returned by cpm_ttext_feature live until the next add/clear/destroy. */
#ifndef CPM_TTEXT_H
#define CPM_TTEXT_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>

#define CPM_TTEXT_USE_MAX 8192 /* bytes of one text that are used */
#define CPM_TTEXT_TOKEN_MAX 48 /* bytes of one syllable (longer ones dropped) */

typedef struct cpm_ttext cpm_ttext_t;

/* NULL when out of memory. */
CPM_MUST_CHECK cpm_ttext_t *cpm_ttext_new(void);
/* Safe on NULL and twice; sets *p to NULL. */
void cpm_ttext_destroy(cpm_ttext_t **p);
/* Forget every feature (keeps the memory). */
void cpm_ttext_clear(cpm_ttext_t *t);

/* Add the features of s (NULL reads as ""), which is the request's field
 * named field. 0; CPM_E_INVALID (err names field) when s is not UTF-8;
 * CPM_E_INTERNAL when out of memory. Nothing is added on error. */
CPM_MUST_CHECK int cpm_ttext_add(cpm_ttext_t *t, const char *field, const char *s,
                                 cpm_error_t *err);

/* The features added so far, in text order (repeats kept). */
size_t cpm_ttext_count(const cpm_ttext_t *t);
const char *cpm_ttext_feature(const cpm_ttext_t *t, size_t i);
/* The syllable feature i belongs to (0, 1, ... across every add), or -1
 * for a bigram. A syllable has one or two features (folded, with
 * diacritics). */
long cpm_ttext_token(const cpm_ttext_t *t, size_t i);
/* Syllables kept so far. */
size_t cpm_ttext_tokens(const cpm_ttext_t *t);

#endif
