/* cpm_registry_int: what cpm_registry.c (loading, indexes, lookups) and
 * cpm_registry_validate.c (checking a document) both need: the member orders
 * the indexes and the uniqueness checks sort by. Internal: services include
 * cpm_registry.h only. */
#ifndef CPM_REGISTRY_INT_H
#define CPM_REGISTRY_INT_H

#include "cpm_registry.h"

/* qsort/bsearch orders of member pointers (elements are const Cpm__Member *):
 * by id, and by the 32-byte curve_pk. */
int cpm_registry_cmp_id(const void *a, const void *b);
int cpm_registry_cmp_curve(const void *a, const void *b);
/* true for an area office (role "area"). */
bool cpm_registry_is_office(const Cpm__Member *m);

#endif
