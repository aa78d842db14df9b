/* cpm_fields: the checks every receiver applies to the fields of a record
 * another node delivered (a Complaint to routing, an Assignment to
 * inspection, a CaseUpdate to routing), whatever the sender checked before.
 *
 * A node that was compromised, or runs other code, can send anything the
 * protobuf schema allows: a ticket with escape codes, a category that is not
 * UTF-8, a megabyte of "area". Identifiers must have their form (see
 * cpm_text.h), free text must be UTF-8 within its size. Each function returns
 * 0 or CPM_E_INVALID / CPM_E_TOO_LARGE with err naming the field exactly as in
 * proto/cpmesh.proto (inside an Assignment: "complaint.<field>"); the message
 * never repeats the offending value, so it is safe to log and to send back.
 * The receiver keeps such a record as a dead letter, never as an event. */
#ifndef CPM_FIELDS_H
#define CPM_FIELDS_H

#include "cpm_err.h"
#include "cpmesh.pb-c.h"

/* Limits, in bytes of UTF-8: the same as intake applies to submissions. */
#define CPM_FIELDS_NAME_MAX 200            /* business_name */
#define CPM_FIELDS_ADDRESS_MAX 300         /* business_address */
#define CPM_FIELDS_TEXT_MAX 4000           /* description */
#define CPM_FIELDS_NOTE_MAX 2000           /* CaseUpdate.note */
#define CPM_FIELDS_LOCATION_MAX 1024       /* location, placement.written */
#define CPM_FIELDS_PLACE_NAME_MAX 96       /* placement unit and candidate names */
#define CPM_FIELDS_PLACE_NOTE_MAX 320      /* placement.note */
#define CPM_FIELDS_PLACE_CANDIDATES_MAX 24 /* placement.candidates */
/* Times (*_ms) are Unix ms within 1970..9999-12-31: the deadline arithmetic downstream cannot
 * overflow. */
#define CPM_FIELDS_TIME_MAX 253402300799999LL

/* A Complaint as intake completed it: ticket, intake_node, channel, area
 * and category have their forms, texts are UTF-8 within their limits; lat/lon
 * finite and in range with has_point (else 0); a placement, when present,
 * has its forms (method point|name|lineage|triage; for triage area and the
 * unit are empty and there are 1..24 candidates; else unit_slug = area).
 * Personal data fields are not looked at here. */
CPM_MUST_CHECK int cpm_fields_complaint(const Cpm__Complaint *c, cpm_error_t *err);

/* An Assignment: its complaint as above, rule_id a label. (agency is the
 * receiver's own id, which the receiver compares.) */
CPM_MUST_CHECK int cpm_fields_assignment(const Cpm__Assignment *a, cpm_error_t *err);

/* A CaseUpdate: ticket, a known state, actor (and agency when set) member
 * ids, note UTF-8 within CPM_FIELDS_NOTE_MAX. */
CPM_MUST_CHECK int cpm_fields_update(const Cpm__CaseUpdate *u, cpm_error_t *err);

#endif
