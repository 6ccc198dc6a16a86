/* events.pml: the code's event kinds and dns-admin's error codes, as numbers the model can carry.
 * model/dnsrace_model/codes.py reads these lines (the one list of names: no second copy in Python). */

#ifndef DNSRACE_EVENTS
#define DNSRACE_EVENTS

/* dns-admin's answer to a batch (records.py: the ChangeConflict subclasses the model can reach) */
#define OK                 0
#define RecordSetMissing   1
#define RecordSetMismatch  2
#define RecordSetExists    3
#define AliasTargetMissing 4
/* not one of dns-admin's refusals: a call that failed for a reason outside the protocol (a lost
 * answer, a reset connection, a dead Redis, dns-admin busy); only trace checks meet it */
#define INFRA_ERROR        9

/* events (events.py kinds), by the service that emits them */
#define EV_plan_created                 1
#define EV_check_passed                 2
#define EV_plan_skipped                 3
#define EV_lock_acquired                4
#define EV_lock_refused                 5
#define EV_lock_gave_up                 6
#define EV_record_set_written           7
#define EV_endpoint_pointed             8
#define EV_endpoint_unchanged           9
#define EV_rollback_emptied            10
#define EV_lock_released               11
#define EV_lock_expired_before_release 12
#define EV_cleanup_spared              13
#define EV_cleanup_deleted             14
#define EV_cleanup_already_gone        15
#define EV_apply_finished              16
#define EV_write_refused               17
#define EV_apply_gave_up               18
#define EV_endpoint_empty_found        19
#define EV_self_check_answering        20
#define EV_enactor_crashed             21
#define EV_enactor_started             22
#define EV_batch_accepted              23
#define EV_batch_rejected              24
#define EV_apply_failed                25

#endif
