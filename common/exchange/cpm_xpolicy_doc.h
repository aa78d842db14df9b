/* cpm_xpolicy_doc: an agency's access policy as a document it signs.
 *
 * The operator writes YAML:
 *
 *   agency: hn.qltt          # the agency node that publishes (the signer)
 *   version: 3               # a new policy must have a higher version
 *   rules:
 *     - dataset: violations
 *       agencies: ["*"]       # requester agencies (Member.agency), "*" = any
 *       roles: [coordinator]  # optional: requester roles
 *       fields: [business, area, violation, fine_vnd, date]
 *       purpose: "recall follow-up"   # required for personal fields
 *       subscribe: true       # may also subscribe
 *
 * `cpmctl exchange policy sign` turns it into a SignedPolicy: the packed
 * ExchangePolicy and an Ed25519 signature by the agency's key over
 * "CPMESH-POLICY-V1\0" || policy (the registry's signed-document form).
 * The exchange loads only a policy signed by its own agency's current key. */
#ifndef CPM_XPOLICY_DOC_H
#define CPM_XPOLICY_DOC_H

#include "cpm_err.h"
#include "cpm_registry.h"
#include "exchange.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define CPM_XPOLICY_DOMAIN "CPMESH-POLICY-V1"
#define CPM_XPOLICY_MAX_BYTES (1 << 20)
#define CPM_XPOLICY_MAX_RULES 256

/* Parse and check the YAML at path: every dataset and field known, personal
 * fields only in a rule with a purpose, agencies given. 0 with *out (free
 * with cpm__exchange_policy__free_unpacked(*out, NULL)), or CPM_E_INVALID /
 * CPM_E_NOT_FOUND with err naming the field ("rules[2].fields[1]"). */
CPM_MUST_CHECK int cpm_xpolicy_from_yaml(const char *path, Cpm__ExchangePolicy **out,
                                         cpm_error_t *err);
/* Check a policy document (what from_yaml checks). */
CPM_MUST_CHECK int cpm_xpolicy_check(const Cpm__ExchangePolicy *p, cpm_error_t *err);
/* Sign p with the agency's secret key: a packed SignedPolicy in *out
 * (malloc'd). 0 or -1. */
CPM_MUST_CHECK int cpm_xpolicy_sign(const Cpm__ExchangePolicy *p, const uint8_t sk[64],
                                    uint8_t **out, size_t *len);
/* Open a packed SignedPolicy for agency: signed by that member's current key
 * in reg (not revoked), agency field equal, document checked. 0 with *out,
 * or CPM_E_FORBIDDEN (field "signature" or "agency") / CPM_E_INVALID. */
CPM_MUST_CHECK int cpm_xpolicy_open(const uint8_t *buf, size_t len, const cpm_registry_t *reg,
                                    const char *agency, Cpm__ExchangePolicy **out,
                                    cpm_error_t *err);

#endif
