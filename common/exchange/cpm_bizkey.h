/* cpm_bizkey: which business a complaint is about, from the name, the
 * address and the area as written, for every service that counts complaints
 * per business (routing's clusters, the hotspot detector).
 *
 * key: 32 lower-case hex digits of BLAKE2b-128 (libsodium crypto_generichash,
 * no key) of "<area>\x1f<normal name>", the normal name being
 * cpm_bizname_normal (case, diacritics and punctuation folded, the legal and
 * shop forms people add or leave out dropped: "Công ty TNHH Phở Cổ" is "pho
 * co", as is "Quán Phở Cổ"). legacy_key is the id routing stored before
 * forms were dropped (the same hash of cpm_bizname_fold, forms kept); it
 * differs from key only for names with forms, and routing links it to the
 * stored cluster (routing_bizlink.h). A complaint
 * with no name (nothing left after folding, or a placeholder such as "không
 * rõ", "chưa rõ tên", "N/A", "quán", "cửa hàng", "shop" alone:
 * cpm_bizkey_placeholder) but an exact address (house and
 * street, cpm_bizaddr.h) gets the address's key instead: BLAKE2b-128 of
 * "<area>\x1f<address normal form>"; a normal form holds '=' which no folded
 * name does, so the two kinds of key never collide.
 * addr_key: that address key whenever the address is exact, "" otherwise:
 * what routing indexes to link a complaint without a name, or with a name
 * written differently, to the business last seen at that address
 * (routing_dupes.h says who wins). Pure functions. */
#ifndef CPM_BIZKEY_H
#define CPM_BIZKEY_H

#include "cpm_bizaddr.h"
#include "cpm_bizname.h"

#include <stdbool.h>

#define CPM_BIZKEY_HEX 33 /* 32 hex digits and the NUL */
#define CPM_BIZKEY_LABEL_MAX 256

typedef struct {
    char key[CPM_BIZKEY_HEX];         /* the business: by name, else by exact address */
    char addr_key[CPM_BIZKEY_HEX];    /* the exact address in its area; "" when not exact */
    char legacy_key[CPM_BIZKEY_HEX];  /* by name with forms kept (routing before); "" if none */
    char name[CPM_BIZNAME_MAX];       /* folded name, forms kept, for humans ("" when none) */
    char address[CPM_BIZADDR_MAX];    /* address normal form ("" when no street) */
    char label[CPM_BIZKEY_LABEL_MAX]; /* for humans: "pho co @ 12 hang bac", "@ 12 hang bac" */
    bool by_name;                     /* key is from the name (else from the address) */
} cpm_bizkey_t;

/* The business of (name, address, area), each as written (NULL is empty;
 * area is used as given, a slug). 0, or -1 when neither a name nor an exact
 * address is left (out then holds what was found: address, label). */
int cpm_bizkey_make(const char *name, const char *address, const char *area, cpm_bizkey_t *out);

/* Is folded (a cpm_bizname_fold output) a placeholder, not a name? */
bool cpm_bizkey_placeholder(const char *folded);

/* 32 hex digits of BLAKE2b-128 of "<area>\x1f<text>" into out. */
void cpm_bizkey_hash(const char *area, const char *text, char out[CPM_BIZKEY_HEX]);

#endif
