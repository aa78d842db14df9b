/* monitor_targets: the programme's yearly targets (targets.csv next to the
 * rules file) and the activities agencies record against them.
 *
 * An activity is a signed ProgrammeActivity request; the monitor keeps it
 * with its signed frame in "mon_acts" under "YEAR/target/what" (what: the
 * title, or the official or organisation trained), so the same activity,
 * official or organisation counts once per year. Progress counts a "year"
 * target's activities of the year and a "standing" target's of any year up
 * to it; ">=N" and "N" need N. "100%" needs what the latest roster of
 * that target dated in or before the year says (a ProgrammeActivity with
 * roster_count / roster, stated by a city coordinator, kept under
 * "R/target/date" with its signed frame and "r/target/date" as payload):
 * its count, or every name on it (then only those names count and the
 * missing ones are listed). Without a roster, officials_trained needs every
 * official of the registry (roles officer, inspector, coordinator, operator;
 * the untrained listed) and orgs_in_awareness says the number is not known. */
#ifndef MONITOR_TARGETS_H
#define MONITOR_TARGETS_H

#include "cpm_err.h"
#include "cpm_registry.h"
#include "cpm_store.h"
#include "monitor.pb-c.h"

#include <stdint.h>

typedef struct mon_targets mon_targets_t;

/* Parse targets.csv (header id,period,target,meaning). 0, or an error naming
 * the line. */
int mon_targets_load(const char *path, mon_targets_t **out, cpm_error_t *err);
void mon_targets_destroy(mon_targets_t **p);

/* Record a from agency (frame: the signed request, kept; city: the signer is
 * a city coordinator, who alone may state a roster). 0 with *reply
 * filled (strings malloc'd: free with mon_targets_reply_clear), or
 * CPM_E_INVALID naming the field, or a store code. */
int mon_targets_record(const mon_targets_t *t, cpm_store_t *st, MDB_txn *txn, const char *agency,
                       bool city, const Cpm__ProgrammeActivity *a, const uint8_t *frame,
                       size_t frame_len, Cpm__ProgrammeRecordReply *reply, cpm_error_t *err);
void mon_targets_reply_clear(Cpm__ProgrammeRecordReply *r);

/* Progress of every target in year. *out: free with mon_targets_progress_free. */
int mon_targets_progress(const mon_targets_t *t, cpm_store_t *st, MDB_txn *txn,
                         const cpm_registry_t *reg, uint32_t year,
                         Cpm__ProgrammeProgressReply **out, cpm_error_t *err);
void mon_targets_progress_free(Cpm__ProgrammeProgressReply **p);

#endif
