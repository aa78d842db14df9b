/* intake_validate: checks what a client submits (a complaint or a consultation)
 * before intake records it. Pure functions: no store, no sockets, no clock
 * (the caller passes now_ms), so tests call them directly.
 *
 * Every function returns 0 or the code of the first problem found, and fills
 * err (may be NULL) with that code, the field name exactly as in
 * proto/cpmesh.proto, and one sentence for a human. Codes: CPM_E_TOO_LARGE for
 * a field over its size limit, CPM_E_INVALID for anything else. Sizes are in
 * bytes of UTF-8. Fields set by intake itself (ticket, received_ms,
 * intake_node; id, operator) must be empty on submit. */
#ifndef INTAKE_VALIDATE_H
#define INTAKE_VALIDATE_H

#include "cpm_err.h"
#include "cpm_rules.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTAKE_NAME_MAX 200      /* business_name, consumer_name */
#define INTAKE_ADDRESS_MAX 300   /* business_address */
#define INTAKE_LOCATION_MAX 1024 /* location, and area as a legacy location text */
#define INTAKE_TEXT_MAX 4000     /* description, summary */
#define INTAKE_PRODUCT_MAX 256   /* product */
#define INTAKE_CLIENT_REF_MAX 64 /* client_ref: [A-Za-z0-9._:-] */
#define INTAKE_EMAIL_MAX 254     /* consumer_email */
#define INTAKE_PHONE_MIN 6       /* consumer_phone, characters */
#define INTAKE_PHONE_MAX 20
#define INTAKE_FUTURE_SLACK_MS (5 * 60 * 1000) /* clock skew allowed on event_time_ms */
#define INTAKE_EPOCH_MIN_MS 946684800000LL     /* 2000-01-01T00:00:00Z */
#define INTAKE_DURATION_MAX 86400              /* duration_s, one day */
/* Serialized size of a whole complaint or consultation as submitted: well
 * above what its field limits allow together (about 6 KiB), far below what a
 * delivery batch carries (CPM_DELIVERY_RECORD_MAX), so a record intake
 * accepts can always be forwarded. */
#define INTAKE_RECORD_MAX (16 * 1024)

/* Checks shared by both: no field unknown to this version at any depth
 * (protobuf-c would keep and forward it; err->field is "#<number>"), every
 * string valid UTF-8, and the whole message at most INTAKE_RECORD_MAX bytes
 * (field "" with CPM_E_TOO_LARGE). The two functions below call it after
 * their field checks, whose messages say more. */
int intake_validate_record(const ProtobufCMessage *m, cpm_error_t *err);

/* A complaint as submitted by a client. rules gives the known categories;
 * now_ms bounds event_time_ms. The place is checked for its form only
 * (location and area texts, a point with has_point and in range, no
 * placement, something given): intake_place resolves it. */
int intake_validate_complaint(const Cpm__Complaint *c, const cpm_rules_t *rules, int64_t now_ms,
                              cpm_error_t *err);

/* A consultation as submitted by a hotline operator's client. */
int intake_validate_consultation(const Cpm__Consultation *c, const cpm_rules_t *rules,
                                 cpm_error_t *err);

/* true when s[0..len) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequences. */
bool intake_utf8_valid(const char *s, size_t len);

/* true for "hotline", "web", "walk_in", "email", "social", "letter". */
bool intake_channel_valid(const char *channel);

#endif
