/* cpm_bizaddr: a business's street address as people write it in Hanoi,
 * reduced to the house number and the street so that the ways one address is
 * written compare equal:
 *   "Số 12 P. Hàng Bạc, Hoàn Kiếm, HN" = "12 hang bac" = "12 Phố Hàng Bạc"
 *   -> "house=12 street=hang bac"
 *
 * What is done (docs/protocol.md 13.2, "Address normal form"):
 * - the text is cut at CPM_BIZADDR_IN_MAX bytes, folded like business names
 *   (cpm_bizname_fold: case, diacritics, "đ" = "d"); ',' ';' '-' and line
 *   ends split it into parts, '/' joins numbers ("12/3"), other punctuation
 *   is a space;
 * - house: "số", "số nhà", "sn", "nhà" are markers; a number ("12", "12a")
 *   or numbers joined by '/' ("12/3") is a house group; "ngõ/ngo/ng N",
 *   "hẻm/h N", "kiệt/k N" name a lane and "ngách/ngh N" a sub-lane (the
 *   short forms only before a number). The house is the lane, the sub-lane
 *   and the house group, outermost first, joined by '/': "số 7 ngách 3 ngõ
 *   12" and "7 ngõ 12/3" are both "12/3/7"; "12 ngõ 5" is "5/12";
 * - street: after the house, a leading "phố/pho/p/ph", "đường/duong/d/đg/dg",
 *   "đại lộ" is dropped; the street is the words up to the end of the part,
 *   a ward or district marker ("phường", "p", "quận", "q", "huyện", "xã",
 *   "thị xã", "tx", "tp", "thành phố") or the city ("hà nội", "hn",
 *   "hanoi", "việt nam", "vn"); a Hanoi district name at its end is dropped
 *   when words remain ("12 Hàng Bạc Hoàn Kiếm");
 * - "P." is a street ("phố") where the street is still to come, and a ward
 *   ("phường") after it: "12 P. Hàng Bạc, P. Hàng Đào" is "hang bac";
 * - parts after the one holding the street (ward, district, city) are
 *   dropped; "tầng/lầu N" (a floor) is dropped.
 * Pure functions: no allocation beyond one folding per word. */
#ifndef CPM_BIZADDR_H
#define CPM_BIZADDR_H

#include <stdbool.h>
#include <stddef.h>

#define CPM_BIZADDR_IN_MAX 1024 /* bytes of the address text looked at */
#define CPM_BIZADDR_HOUSE_MAX 48
#define CPM_BIZADDR_STREET_MAX 160
#define CPM_BIZADDR_MAX 224 /* "house=<house> street=<street>" with its NUL */

typedef struct {
    char house[CPM_BIZADDR_HOUSE_MAX];   /* "12a", "12/3/7"; "" when none was found */
    char street[CPM_BIZADDR_STREET_MAX]; /* "hang bac"; "" when none was found */
    char normal[CPM_BIZADDR_MAX];        /* "house=12a street=hang bac", "street=hang bac", "" */
} cpm_bizaddr_t;

/* The normal form of address (as written; NULL is empty) into *out.
 * true when a street was found (a house may be missing); false leaves the
 * fields empty or holding what was found (a house without a street). */
bool cpm_bizaddr_normal(const char *address, cpm_bizaddr_t *out);

/* Whether a has both a house and a street: only such an address names one
 * place precisely enough to link complaints by it. */
bool cpm_bizaddr_exact(const cpm_bizaddr_t *a);

const char *cpm_bizaddr_house(const cpm_bizaddr_t *a);
const char *cpm_bizaddr_street(const cpm_bizaddr_t *a);

/* Do two addresses as written name the same place (exact forms equal)? */
bool cpm_bizaddr_same(const char *a, const char *b);

#endif
