/* cpm_xpolicy: an agency's access policy, decided.
 *
 * The policy is an ExchangePolicy (proto/exchange.proto) the agency signs.
 * A rule applies to a request when its dataset is the request's, the
 * requester's agency is listed (or "*"), and its roles are empty or list the
 * requester's role. The fields shared are the union of the applying rules'
 * fields; a personal field (cpm_xschema) of a rule only when that rule
 * names a purpose and the request's purpose is exactly it. A field not named
 * is not shared. The agency itself (requester agency == self) gets every
 * field of its own data. Pure: no store, no keys (signing and loading are
 * cpm_xpolicy_doc). */
#ifndef CPM_XPOLICY_H
#define CPM_XPOLICY_H

#include "cpm_xschema.h"
#include "exchange.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool allowed;      /* something may be given (the answer may still be empty) */
    bool subscribe;    /* an applying rule allows subscribing */
    int code;          /* 0, or 403 when refused */
    char field[80];    /* refused: "<dataset>" or "<dataset>.<field>" */
    char reason[256];  /* refused: one sentence */
    uint64_t shared;   /* bit i: schema field i is given */
    uint64_t withheld; /* bit i: schema field i exists and is not given */
} cpm_xgrant_t;

/* What a requester of agency and role gets of dataset d for purpose, asking
 * for the wanted fields (n == 0: whatever is allowed; a wanted field that is
 * not shared refuses the whole request, naming it). p may be NULL (no
 * policy: nothing is shared with other agencies). */
void cpm_xpolicy_decide(const Cpm__ExchangePolicy *p, const char *self_agency,
                        const cpm_xdataset_t *d, const char *agency, const char *role,
                        const char *purpose, const char *const *wanted, size_t n, cpm_xgrant_t *g);

/* May the requester filter dataset d on field (NULL or "": nothing to
 * check)? Only on a field the policy would give it: a filter on a withheld
 * field would reveal it record by record. true, or false with g refused
 * (403, "<dataset>.<field>", a sentence). */
bool cpm_xpolicy_may_filter(const Cpm__ExchangePolicy *p, const char *self_agency,
                            const cpm_xdataset_t *d, const char *agency, const char *role,
                            const char *purpose, const char *field, cpm_xgrant_t *g);

/* out = r with only the fields g shares, in r's order (out->fields is a
 * malloc'd array of pointers borrowed from r: free(out->fields) only).
 * 0 or -1 (out of memory). */
int cpm_xpolicy_redact(const cpm_xgrant_t *g, const cpm_xdataset_t *d, const Cpm__DataRecord *r,
                       Cpm__DataRecord *out);

/* The names of the withheld fields of g, comma-separated, into buf. */
const char *cpm_xpolicy_withheld(const cpm_xgrant_t *g, const cpm_xdataset_t *d, char *buf,
                                 size_t cap);

#endif
