/* routing_themes: within one business's cluster, complaints whose
 * descriptions are alike (the same problem told by different consumers or
 * channels) grouped into themes, so that coordinators see "14 people about
 * cockroaches in the pho" rather than 14 cases.
 *
 * A description is folded (cpm_bizname_fold), cut to ROUTING_THEMES_TEXT_MAX
 * bytes, stripped of common function words, and turned into its set of
 * syllables and syllable 2-shingles; a MinHash signature of
 * ROUTING_THEMES_K 32-bit minima estimates the Jaccard similarity of two
 * sets. A complaint joins the theme it is most similar to (the highest
 * estimate against the theme's first member and its latest ones) when that
 * is at least ROUTING_THEMES_MIN_PM per mille, else it starts a theme. A
 * business keeps at most ROUTING_THEMES_MAX themes: to make room, the one
 * with the fewest complaints (the oldest among equals) goes, counted in
 * themes_dropped; a theme silent for the window goes too.
 *
 * Stored in "clusters" under b "/t", next to the business's aggregate
 * (routing_clusters.h; a store from before has it in "clusters.themes" under
 * b until it is next written): b -> ClusterThemes (cpmesh.proto): per theme
 * its counts, first 20 tickets, signatures, 4-byte consumer fingerprints and
 * candidate words (folded, counted, each with the first consumer fingerprint
 * that used it and whether a second one did). Never the description; and
 * never a word only one consumer wrote on the screen: a word is shown only
 * once 2 different consumer fingerprints used it ("Tôi tên Nguyễn Thị Lan"
 * written twice by one person shows none of it), and until then it is only a
 * candidate, whose slot the next new word takes when the list is full. Written in the
 * transaction that counts the complaint in its cluster; deleted with the
 * cluster. No sockets. */
#ifndef ROUTING_THEMES_H
#define ROUTING_THEMES_H

#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTING_THEMES_DB "clusters.themes" /* the layout before (see above) */
#define ROUTING_THEMES_MAX 16               /* themes kept per business */
#define ROUTING_THEMES_K 64                 /* MinHash minima per signature */
#define ROUTING_THEMES_SIGS 3               /* signatures kept per theme: the first and 2 latest */
#define ROUTING_THEMES_TICKETS 20           /* tickets kept per theme */
#define ROUTING_THEMES_FPS 32               /* consumer fingerprints kept per theme */
#define ROUTING_THEMES_WORDS 12             /* candidate words kept per theme */
#define ROUTING_THEMES_SHOW_WORDS 5         /* characteristic words shown */
#define ROUTING_THEMES_TEXT_MAX 4096        /* bytes of a description looked at */
#define ROUTING_THEMES_MIN_PM 200           /* similarity (per mille) to join a theme */

/* How long a theme lives without a complaint (routing config
 * clusters_window_days; default 365 days). Set once at start. */
void routing_themes_set_window(int64_t window_ms);

/* The MinHash signature of description into sig; the number of distinct
 * features (0: nothing to compare, e.g. empty or only function words). */
size_t routing_themes_signature(const char *description, uint32_t sig[ROUTING_THEMES_K]);

/* Whether signatures are computed four permutations at a time with the
 * CPU's AVX2 instructions (the same values), when it has them and on is
 * true: true when they are. The default is on; tests compare the two. */
bool routing_themes_simd(bool on);

/* Estimated similarity of two signatures, per mille. */
unsigned routing_themes_similarity(const uint32_t a[ROUTING_THEMES_K],
                                   const uint32_t b[ROUTING_THEMES_K]);

/* What routing_themes_add_text takes from a description alone (folded, cut
 * into words, hashed, signed), made ahead on any thread: routing makes it for
 * the records of a batch at once on the verification pool. NULL when out of
 * memory. */
typedef struct routing_themes_text routing_themes_text_t;
routing_themes_text_t *routing_themes_text_new(const char *description);
void routing_themes_text_destroy(routing_themes_text_t **p);
/* Add complaint c (received at at_ms) to the themes of business bid, with
 * c's description made into text ahead (NULL: made here; the same result).
 * A description with no features is not themed. 0 or a store error. */
int routing_themes_add_text(cpm_store_t *st, MDB_txn *txn, const char *bid, const Cpm__Complaint *c,
                            int64_t at_ms, const routing_themes_text_t *text);

/* Fill cl->themes with the themes of bid of at least 2 complaints, most
 * complaints first, at most max; and cl->themes_dropped. Allocations belong
 * to cl (freed by cpm__cluster__free_unpacked). 0 or a store error. */
int routing_themes_fill(cpm_store_t *st, MDB_txn *txn, const char *bid, Cpm__Cluster *cl,
                        uint32_t max);

/* Forget the themes of bid (its cluster is deleted). 0 or a store error. */
int routing_themes_forget(cpm_store_t *st, MDB_txn *txn, const char *bid);

#endif
