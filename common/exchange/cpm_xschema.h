/* cpm_xschema: the datasets an agency's exchange publishes, with their
 * schemas (fields, types, which are consumers' personal data) and versions.
 *
 * A schema is compiled in: a version number changes whenever a field is
 * added or changes meaning, and every record and answer carries the version
 * it was made under. Values travel as text (DataField.value); the type says
 * how to read and check them. */
#ifndef CPM_XSCHEMA_H
#define CPM_XSCHEMA_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CPM_XF_TEXT = 1, /* UTF-8, at most CPM_XSCHEMA_VALUE_MAX bytes */
    CPM_XF_INT,      /* decimal integer >= 0 */
    CPM_XF_VND,      /* an amount in VND: decimal integer >= 0 */
    CPM_XF_TIME,     /* UTC milliseconds since 1970, decimal */
    CPM_XF_AREA,     /* an area slug (either jurisdiction generation) */
    CPM_XF_MONTH,    /* "YYYY-MM" (Asia/Ho_Chi_Minh calendar month) */
} cpm_xf_type_t;

typedef struct {
    const char *name;
    cpm_xf_type_t type;
    bool personal; /* a consumer's personal data: shared only to a named receiver and purpose */
    const char *what;
} cpm_xfield_t;

typedef struct {
    const char *name;
    uint32_t version;
    const cpm_xfield_t *fields;
    size_t n_fields;
    bool by_hand;               /* published by officers (ExchangePublish), not from events */
    const char *date_field;     /* what a query's period filters on (NULL: none) */
    const char *business_field; /* what --business matches (NULL: none) */
    const char *tax_field;      /* what --tax-code matches (NULL: none) */
    const char *area_field;     /* what --area matches (NULL: none) */
    const char *what;
} cpm_xdataset_t;

#define CPM_XSCHEMA_VALUE_MAX 2048 /* bytes of one value */
#define CPM_XSCHEMA_NAME_MAX 32    /* bytes of a dataset or field name */

/* The dataset called name, or NULL. */
const cpm_xdataset_t *cpm_xschema_find(const char *name);
/* Every dataset, in a fixed order; *n gets how many. */
const cpm_xdataset_t *cpm_xschema_all(size_t *n);
/* The field called name of d, or NULL. */
const cpm_xfield_t *cpm_xschema_field(const cpm_xdataset_t *d, const char *name);
/* Does value read as f's type? 0, or CPM_E_INVALID with err naming
 * "<dataset>.<field>" and saying what is wrong in one sentence. */
CPM_MUST_CHECK int cpm_xschema_check(const cpm_xdataset_t *d, const cpm_xfield_t *f,
                                     const char *value, cpm_error_t *err);
/* "text", "int", "vnd", "time", "area", "month". */
const char *cpm_xschema_type_name(cpm_xf_type_t t);

#endif
