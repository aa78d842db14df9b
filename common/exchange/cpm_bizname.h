/* cpm_bizname: business names as people write them, compared.
 *
 * The normal form folds case and Vietnamese diacritics ("Phở" = "pho",
 * "Đ" = "d"), turns punctuation into single spaces, and drops the legal and
 * shop forms that people add or leave out: "Công ty TNHH", "Công ty cổ
 * phần", "CTCP", "Cty", "TNHH", "MTV", "Cửa hàng", "Shop", "Hộ kinh
 * doanh", "DNTN", ... A query matches a name when the query's normal form is
 * the name's, or a run of whole words in it ("pho co" matches "Công ty TNHH
 * Phở Cổ Hà Nội"). Pure functions; no allocation for UTF-8 text (folded a character at a
 * time), one normalisation otherwise. */
#ifndef CPM_BIZNAME_H
#define CPM_BIZNAME_H

#include <stdbool.h>
#include <stddef.h>

#define CPM_BIZNAME_MAX 256 /* bytes of a normal form kept */

/* Fold name into out (cap bytes): Vietnamese diacritics dropped ("đ" is
 * "d"), ASCII lower case, every run of anything but a letter or digit one
 * space. Returns the length (0: nothing left). The forms stay. */
size_t cpm_bizname_fold(const char *name, char *out, size_t cap);

/* The same for the first len bytes of text (need not be terminated): routing
 * folds a description cut at a character boundary. */
size_t cpm_bizname_fold_n(const char *text, size_t len, char *out, size_t cap);

/* The normal form of name into out (cap bytes). *forms (may be NULL) gets
 * the forms dropped, space-separated in their folded spelling ("cong ty
 * tnhh"), within forms_cap. false when nothing is left (an empty name, or a
 * name of forms only, which then stay: "Shop" alone is "shop"). */
bool cpm_bizname_normal(const char *name, char *out, size_t cap, char *forms, size_t forms_cap);

/* Does name match the query (both as written)? When it does and why is not
 * NULL, why gets one line for humans, e.g.
 *   business "Công ty TNHH Phở Cổ" ~ "pho co" (forms left out: cong ty tnhh) */
bool cpm_bizname_match(const char *query, const char *name, char *why, size_t why_cap);

#endif
