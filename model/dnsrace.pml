/* dnsrace.pml: the protocol of services/enactor (apply_loop.py, with legacy.py or safe.py) against
 * dns-admin's change-batch rules (services/dns-admin/dnsrace_admin/rules.py), as one Promela model.
 *
 *   spin -a        model/dnsrace.pml      legacy: the incident's enactor
 *   spin -a -DSAFE model/dnsrace.pml      safe:   the fix
 *
 * One model, two variants: every difference between legacy.py and safe.py is an #ifdef SAFE below,
 * at the same step of the apply loop, so `grep -n SAFE` lists the diff as the model sees it.
 *
 * Processes: the planner, three enactors, the lock's clock (a lease expires at any moment while its
 * holder is slow), CoreDNS's reload (safe's self-check reads DNS, which lags the zone), and with
 * -DOPERATOR an operator who deletes the live plan once (the manual-delete scenario).
 * Every step that emits an event in the code emits the same event here (EMIT, same kinds and
 * arguments), so a trail reads as a timeline and a recorded run can be replayed against the model
 * (model/dnsrace_model/trace.py, -DTRACE). Bounds: NGEN plans, KEEP (K), LOCK_TRIES, RETRY_MAX; see
 * model/dnsrace_model/searches.py for the values `make model` uses.
 */

#include "events.pml"

#ifndef NGEN
#define NGEN 4          /* plans 1..NGEN; the planner stops after NGEN */
#endif
#ifndef KEEP
#define KEEP 1          /* CLEANUP_KEEP_GENERATIONS: cleanup deletes plans g < applied - KEEP */
#endif
#ifndef LOCK_TRIES
#define LOCK_TRIES 2    /* LOCK_ATTEMPTS_MAX: refusals before lock_gave_up */
#endif
#ifndef RETRY_MAX
#define RETRY_MAX 2     /* RETRY_COUNT_MAX (safe): failed passes on one plan before apply_gave_up */
#endif
#define MAXCH 6         /* changes in one batch: safe's cleanup batch has 5 */

/* Names in the zone (the lab serves one endpoint): the endpoint alias, the rollback alias, and
 * plan-N's A record set. An alias's value is the generation it targets (0: no alias). */
#define N_ENDPOINT 1
#define N_ROLLBACK 2
#define N_PLAN     3
#define A_CREATE 1
#define A_DELETE 2
#define A_UPSERT 3

/* --- the world --------------------------------------------------------------------------------- */
byte newest;               /* the planner's newest plan (Redis dnsrace:plans:latest) */
byte ep;                   /* the endpoint alias's target generation, 0: no alias */
byte rb;                   /* the rollback alias's target generation, 0: no alias */
bit  ex[NGEN + 1];         /* plan-g's A record set exists */
byte holder;               /* the endpoint lock: 0 free, else the holding enactor (1..3) */
bit  dns_empty = 1;        /* what CoreDNS last loaded: the endpoint answers empty */
bit  faults_over;          /* the lock's clock stopped expiring leases (liveness: faults stop) */


/* the batch being applied: scratch for one atomic step, zero between steps */
byte b_n;
byte b_act[MAXCH];
byte b_name[MAXCH];
byte b_val[MAXCH];
byte res_err;              /* OK, or dns-admin's error for change res_idx (events.pml) */
byte res_idx;
byte w_ep;                 /* the working copy (rules.apply_changes): aliases, and one plan overlay */
byte w_rb;
byte w_g;
bit  w_gv;
byte b_i;
byte b_cur;

#define ALIVE(g)        ((g) != 0 && ex[g])                      /* the alias target exists */
#define ZONE_PROBLEM    (ep == 0 || !ex[ep])                      /* facts.endpoint_problem */
#define PLAN_EXISTS_W(g) ((w_g == (g) && w_g != 0) -> w_gv : ex[g])

#ifdef TRACE
#include "trace_hooks.pml"
#else
/* Verification: an event is a printf, which pan skips and `spin -t` replays into the trail. */
#define EMIT(k, a, b, c)   printf("@@E %d %d %d %d %d\n", me, k, a, b, c)
#define STEP_READY         true
#define EMIT_BATCH         print_batch()
#define FAIL_POINT         /* (trace) a failure outside the protocol: trace_hooks.pml */
#define TENURE(v)          /* (trace) the enactor holds a tenure of the lock */
/* The trace check starts from a zone it does not know, and learns each part on first reading it
 * (trace_hooks.pml); verification knows its zone from the start. */
#define know_ep()          skip
#define know_rb()          skip
#define know_ex(gen)       skip
#define know_batch()       skip
#define resolve_last()     skip
#define LAST_UNKNOWN       false
#define SELF_CHECK_WORTH   (fails > 0 || (dns_empty && ZONE_PROBLEM) || (!dns_empty && empty_seen))
#define ZONE_KNOWN         true
#define SAME_TENURE_REFUSAL false
#define READ_WORTH         true    /* an idle pass with a newer plan to read */
#define reload_maybe()     skip    /* CoreDNS reloads on its own (CoreDns) */
#define TAKEOVER           false   /* a lease lapses on its own (LockClock) */
#define LAPSES_UNNOTICED   false
#endif

/* a batch is built in one step from nothing (b_n = 0 first: in a trace check a step that did not
 * match the record stops where it is, and must not leave changes to the next batch) */
inline new_batch() {
  b_n = 0
}

inline add_change(act, name, val) {
  b_act[b_n] = act; b_name[b_n] = name; b_val[b_n] = val; b_n++
}

inline clear_batch() {
  b_i = 0;
  do
  :: b_i < MAXCH -> b_act[b_i] = 0; b_name[b_i] = 0; b_val[b_i] = 0; b_i++
  :: else -> break
  od;
  b_n = 0; b_i = 0; b_cur = 0; res_err = 0; res_idx = 0; w_ep = 0; w_rb = 0; w_g = 0; w_gv = 0
}

inline print_batch() {
  b_i = 0;
  do
  :: b_i < b_n -> printf("@@C %d %d %d\n", b_act[b_i], b_name[b_i], b_val[b_i]); b_i++
  :: else -> break
  od;
  printf("@@B %d %d %d %d\n", me, res_err, res_idx, b_n)
}

/* dns-admin's rules (rules.apply_changes) on the batch in b_*: in order, on a working copy; the
 * first change that does not fit rejects the whole batch (res_err, res_idx). Modelled: CREATE of an
 * existing set (RecordSetExists), DELETE of a missing one (RecordSetMissing) or of another value
 * (RecordSetMismatch: the compare-and-swap), an ALIAS whose target A set does not exist after the
 * earlier changes (AliasTargetMissing). Not reachable with these names, so left out: NameConflict,
 * AliasChain, ZoneFull, and a DELETE of an A set with other addresses (a plan's addresses are fixed). */
inline apply_batch() {
  know_batch();
  w_ep = ep; w_rb = rb; w_g = 0; w_gv = 0; res_err = OK; res_idx = 0; b_i = 0;
  do
  :: b_i < b_n && res_err == OK ->
     if
     :: b_name[b_i] == N_PLAN ->
        assert(w_g == 0 || w_g == b_val[b_i]);    /* one plan's A set per batch, as every sender does */
        b_cur = PLAN_EXISTS_W(b_val[b_i]);
        if
        :: b_act[b_i] == A_DELETE && !b_cur -> res_err = RecordSetMissing
        :: b_act[b_i] == A_DELETE && b_cur  -> w_g = b_val[b_i]; w_gv = 0
        :: b_act[b_i] == A_CREATE && b_cur  -> res_err = RecordSetExists
        :: b_act[b_i] == A_CREATE && !b_cur -> w_g = b_val[b_i]; w_gv = 1
        :: b_act[b_i] == A_UPSERT           -> w_g = b_val[b_i]; w_gv = 1
        fi
     :: else ->
        b_cur = (b_name[b_i] == N_ENDPOINT -> w_ep : w_rb);
        if
        :: b_act[b_i] == A_DELETE && b_cur == 0 -> res_err = RecordSetMissing
        :: b_act[b_i] == A_DELETE && b_cur != 0 && b_cur != b_val[b_i] -> res_err = RecordSetMismatch
        :: b_act[b_i] == A_DELETE && b_cur != 0 && b_cur == b_val[b_i] -> b_cur = 0
        :: b_act[b_i] == A_CREATE && b_cur != 0 -> res_err = RecordSetExists
        :: (b_act[b_i] == A_UPSERT || (b_act[b_i] == A_CREATE && b_cur == 0)) && !PLAN_EXISTS_W(b_val[b_i]) ->
           res_err = AliasTargetMissing
        :: (b_act[b_i] == A_UPSERT || (b_act[b_i] == A_CREATE && b_cur == 0)) && PLAN_EXISTS_W(b_val[b_i]) ->
           b_cur = b_val[b_i]
        fi;
        if
        :: res_err == OK && b_name[b_i] == N_ENDPOINT -> w_ep = b_cur
        :: res_err == OK && b_name[b_i] == N_ROLLBACK -> w_rb = b_cur
        :: else -> skip
        fi
     fi;
     if
     :: res_err != OK -> res_idx = b_i
     :: else -> b_i++
     fi
  :: else -> break
  od
}

/* An accepted batch becomes the zone (one SQLite transaction in dns-admin). */
inline commit_batch() {
  if
  :: res_err == OK ->
#ifdef P_FORWARD
     assert(w_ep == 0 || ep == 0 || w_ep >= ep);     /* P3 generation_never_goes_back */
#endif
     ep = w_ep; rb = w_rb;
     if
     :: w_g != 0 -> ex[w_g] = w_gv
     :: else -> skip
     fi;
#ifdef P_EXISTING
     assert(ep == 0 || ex[ep]);                      /* P1 endpoint_refers_to_existing_plan */
#endif
#ifdef P_RECOVERABLE
     assert(!(ep != 0 && !ex[ep] && rb != 0 && !ex[rb]));   /* P4 recoverable */
#endif
     reload_maybe()
  :: else -> skip
  fi
}

/* P2 no_failure_on_rollback: no apply fails because the plan its rollback change aliases is missing
 * (legacy: the crash, asserted once it is emitted; safe: a refused attempt would be a failure too). */
inline note_point_refusal() {
  on_rollback = (res_err == AliasTargetMissing && b_name[res_idx] == N_ROLLBACK)
}
inline check_no_failure_on_rollback() {
#ifdef P_ROLLBACK
  assert(!on_rollback)
#else
  skip
#endif
}

/* --- the planner: plan N+1 on every tick -------------------------------------------------------- */
#ifdef TRACE
proctype Planner() {   /* (trace) the plans nobody read before the recording ended; see publish_lazily */
  byte me = 0;
  do
  :: atomic { newest < NGEN && STEP_READY && READERS_DONE -> EMIT(EV_plan_created, newest + 1, 0, 0); newest++ }
  :: newest == NGEN -> break
  od
}
/* a plan newer than x has been published: read, or waiting to be read (publish_lazily) */
#define PLANS_AFTER(x) (newest > (x) || (cur[0] < tr_end[0] && tr_kind[cur[0]] == EV_plan_created))
#else
/* Verification publishes plans lazily: only enactors read `newest`, so a plan published and not yet
 * read is indistinguishable from one not yet published. An enactor's read returns any plan from the
 * newest already seen by anybody up to NGEN, and that plan (and those before it) are then published.
 * The same reads are possible as with a planner ticking on its own, with fewer states. */
#define PLANS_AFTER(x) (NGEN > (x))
#endif

/* step 1 of a pass: p := the newest plan, at least `floor` + 1 */
inline read_newest(floor) {
#ifdef TRACE
  publish_lazily(); read_must_lead_on();
  p = newest
#else
  p = (newest > floor -> newest : floor + 1);
  do
  :: p < NGEN -> p++
  :: break
  od;
  do
  :: newest < p -> newest++; printf("@@E 0 %d %d 0 0\n", EV_plan_created, newest)
  :: else -> break
  od
#endif
}

/* --- the lock's clock: a lease expires while its holder is slow, and the holder is never told --- */
proctype LockClock() {
#ifdef LIVENESS
end_clock:
  do
  :: atomic { !faults_over && holder != 0 -> holder = 0 }
  :: atomic { !faults_over -> faults_over = 1 }   /* the faults stop, for good */
  :: faults_over -> break
  od
#else
end_clock:
  do
  :: atomic { holder != 0 -> holder = 0 }
  od
#endif
}

#ifdef SAFE
/* --- CoreDNS: re-reads the zone file (every second); the self-check resolves what it loaded ----- */
proctype CoreDns() {
end_reload:
  do
  :: atomic { ZONE_KNOWN && dns_empty != ZONE_PROBLEM -> dns_empty = ZONE_PROBLEM }
  od
}
#endif

#if defined(OPERATOR) && !defined(TRACE)
/* --- an operator deletes the live plan's record set through the API, once (manual-delete) ------- */
proctype Operator() {
  byte me = 4;
  atomic {
    ep != 0 && ex[ep] ->
    new_batch(); add_change(A_DELETE, N_PLAN, ep); apply_batch(); EMIT_BATCH; commit_batch(); clear_batch()
  }
}
#endif

/* --- an enactor: apply_loop.one_pass, again and again ------------------------------------------- */
/* Each atomic step below does at most one read or write of shared state (a Redis call, a dns-admin
 * call), as the code does; the purely local work after it (deciding, emitting) is part of the same
 * step, since no other process could tell the difference. Locals are zeroed once dead, so two states
 * that differ only in stale scratch are one state. */

/* apply_and_clean returned normally (step 2 skipped, the lock was given up, or cleanup finished) */
inline pass_returned() {
  c_ep = 0; c_rb = 0; c_ok = 0; att = 0; l_ep = 0; l_rb = 0; v = 0;
#ifdef SAFE
  if
  :: repairing -> repairing = 0; fails = 0; p = 0; goto idle     /* the pass ends after its repair */
  :: else -> last = p; goto self_check                             /* then the self-check, same pass */
  fi
#else
  last = p; p = 0; goto idle
#endif
}

/* the next victim of the cleanup, or the end of the apply */
inline next_victim() {
  v++;
  do
  :: v <= NGEN && !vic[v] -> v++
  :: else -> break
  od;
  if
  :: v > NGEN -> v = 0; EMIT(EV_apply_finished, p, 0, 0); pass_returned()
  :: else -> vic[v] = 0; goto delete_victim
  fi
}

/* the pass raised: the mode's on_error (safe records `kind`: write_refused for a refused batch,
 * apply_failed for a failure outside the protocol; legacy dies naming err) */
inline pass_raised() {
  pass_failed(EV_write_refused)
}

inline pass_failed(kind) {
  c_ep = 0; c_rb = 0; c_ok = 0; l_ep = 0; l_rb = 0; v = 0; failed = 0; repairing = 0;
  for (g : 1 .. NGEN) { vic[g] = 0 };
#ifdef SAFE
  /* one failed attempt, never a dead process: an event, a backoff, a pass on fresh facts */
#if RETRY_MAX > 0
  fails++;
  EMIT(kind, p, fails, 0); check_no_failure_on_rollback();
  if
  /* a plan is given up only if the pass had one (enactor.working_on): failures reading the plan count on */
  :: fails >= RETRY_MAX && p != 0 -> last = (p > last -> p : last); EMIT(EV_apply_gave_up, p, fails, 0); fails = 0
  :: else -> skip
  fi;
#else
  /* RETRY_MAX 0: retries not bounded (giving a plan up writes nothing: as slow as forever, above) */
  EMIT(kind, p, 0, 0); check_no_failure_on_rollback();
#endif
  g = 0; err = 0; p = 0; on_rollback = 0; goto idle
#else
  /* THE BUG (2/2): nothing handles it; the process dies, and Docker restarts it into the same zone */
  EMIT(EV_enactor_crashed, err, 0, 0); check_no_failure_on_rollback();
  g = 0; err = 0; p = 0; last = 0; on_rollback = 0; goto restart   /* down until Docker starts it again */
#endif
}

proctype Enactor(byte me) {
  byte p;          /* the plan of this pass (step 1) */
  byte last;       /* enactor.last_generation: the newest plan it has finished with */
  byte c_ep;       /* the facts of the check (step 2): the endpoint's target, */
  byte c_rb;       /* the rollback's (safe), */
  bit  c_ok;       /* and whether the endpoint's target existed (safe) */
  byte cur_ep;     /* legacy: the endpoint re-read at step 5 */
  byte l_ep;       /* the cleanup's listing (step 7) */
  byte l_rb;
  bit  vic[NGEN + 1];
  byte v;          /* the victim being deleted */
  byte g;
  byte att;        /* lock attempts in this pass */
  byte err;        /* legacy: the error the crash will name */
  byte fails;      /* safe: consecutive failed passes (enactor.failures) */
  bit  repairing;  /* safe: this apply was started by the self-check (last is not updated) */
  bit  empty_seen; /* safe: the self-check's last answer was empty */
#ifdef TRACE
  bit  empty_seen_unknown;   /* not recorded when the run starts: either, until the self-check says */
#endif
  bit  failed;     /* this pass raised (a batch was refused) */
  bit  on_rollback; /* ... at its rollback change, for want of the plan it aliases (P2) */
#ifdef TRACE
  bit  bm;         /* the batch matched the recorded one (trace_hooks.pml) */
  bit  mine;       /* it took the lock in this pass and has not released it (a failure releases it) */
#endif

#ifdef TRACE
  trace_enactor_start();        /* where the recorded run found this enactor (trace_hooks.pml) */
#elif defined(START_APPLIED)
  last = 1;                     /* every enactor has finished with plan 1 */
#endif

idle:
end_idle: FAIL_POINT  /* step 1: read the newest plan. A pass that would find nothing to do (no newer plan, no
         * failure to reset, nothing for the self-check to say) changes nothing: it is not taken. */
#ifdef SAFE
  atomic {
    if
    :: SELF_CHECK_WORTH && PLANS_AFTER(0) -> read_newest(0)
    :: (PLANS_AFTER(last) || LAST_UNKNOWN) && READ_WORTH -> resolve_last(); read_newest(last)
    fi;
    if
    :: p > last -> goto check
    :: else -> goto self_check
    fi
  }
#else
  atomic {
    (PLANS_AFTER(last) || LAST_UNKNOWN) && READ_WORTH -> resolve_last(); read_newest(last);
    if :: p <= last -> p = 0; goto idle :: else -> skip fi   /* (trace: it had finished with it) */
  }
#endif

check:  /* step 2: the facts; the mode decides (should_apply) */
  FAIL_POINT
  atomic {
    know_ep(); c_ep = ep;
#ifdef SAFE
    know_rb(); know_ex(ep); c_rb = rb; c_ok = ALIVE(ep);
    /* is_newer, or the live plan itself when its record set was lost (restore it) */
    if
    :: c_ep == 0 || p > c_ep || (c_ep == p && !c_ok) ->
       EMIT(EV_check_passed, p, c_ep, (c_ep == p && !c_ok)); att = 1
    :: else ->
       EMIT(EV_plan_skipped, p, c_ep, 0); pass_returned()
    fi
#else
    if
    :: c_ep == 0 || p > c_ep -> EMIT(EV_check_passed, p, c_ep, 0); c_ep = 0; att = 1
    :: else -> EMIT(EV_plan_skipped, p, c_ep, 0); pass_returned()
    fi
#endif
  }

lock:   /* step 3: take the endpoint's lock, with bounded attempts */
  FAIL_POINT
  if
  :: atomic { STEP_READY && (holder == 0 || TAKEOVER) -> EMIT(EV_lock_acquired, p, att, 0); holder = me TENURE(1); att = 0 }
  :: atomic { holder != 0 && holder != me ->
       g = holder; EMIT(EV_lock_refused, p, g, att);
       do   /* (trace) the refusals that follow within the same tenure: the lock has not changed */
       :: att < LOCK_TRIES && SAME_TENURE_REFUSAL -> att++; EMIT(EV_lock_refused, p, g, att)
       :: else -> break
       od;
       g = 0;
#if LOCK_TRIES > 0
       if
       :: att < LOCK_TRIES -> att++; goto lock
       :: else -> EMIT(EV_lock_gave_up, p, 0, 0); pass_returned()
       fi
#else
       /* LOCK_TRIES 0: attempts not bounded. A pass that gives the lock up writes nothing, which for
        * the safety properties is the same as an enactor that is slow forever; so waiting covers it. */
       goto lock
#endif
     }
  fi;

write:  /* step 4: the plan's record set */
  FAIL_POINT
  atomic {
    STEP_READY ->
    new_batch(); add_change(A_UPSERT, N_PLAN, p); apply_batch(); assert(res_err == OK); EMIT_BATCH;
    EMIT(EV_record_set_written, p, 0, 0); commit_batch(); clear_batch()
  }

#ifdef SAFE
point:  /* step 5, safe: a compare-and-swap built from the CHECKED facts, forward only */
  FAIL_POINT
  atomic {
    STEP_READY ->
    if
    :: c_ep == p -> EMIT(EV_endpoint_unchanged, p, 0, 0)   /* already live: step 4 restored it */
    :: else ->
       assert(c_ep == 0 || p > c_ep);                     /* InvariantRefused: it never moves back */
       new_batch();
       if :: c_ep != 0 -> add_change(A_DELETE, N_ENDPOINT, c_ep) :: else -> skip fi;
       add_change(A_CREATE, N_ENDPOINT, p);
       if :: c_rb != 0 -> add_change(A_DELETE, N_ROLLBACK, c_rb) :: else -> skip fi;
       if :: c_ok -> add_change(A_CREATE, N_ROLLBACK, c_ep) :: else -> skip fi;
       apply_batch(); EMIT_BATCH;
       if
       :: res_err == OK ->
          EMIT(EV_endpoint_pointed, p, (c_ok -> c_ep : 0), 0);
          if :: !c_ok && c_ep != 0 -> EMIT(EV_rollback_emptied, p, c_ep, 0) :: else -> skip fi
       :: else -> failed = 1; note_point_refusal()
       fi;
       commit_batch(); clear_batch()
    fi;
    c_ep = 0; c_rb = 0; c_ok = 0
  }
#else
  FAIL_POINT
  atomic { know_ep(); cur_ep = ep }   /* step 5, legacy: read the facts again */
point:  /* ... and UPSERT from them: THE BUG (1/2), the rollback aliases the previous plan unasked */
  FAIL_POINT
  atomic {
    STEP_READY ->
    new_batch(); add_change(A_UPSERT, N_ENDPOINT, p);
    if :: cur_ep != 0 -> add_change(A_UPSERT, N_ROLLBACK, cur_ep) :: else -> skip fi;
    apply_batch(); EMIT_BATCH;
    if
    :: res_err == OK -> EMIT(EV_endpoint_pointed, p, cur_ep, 0)
    :: else ->
       failed = 1; err = res_err;
       note_point_refusal()
    fi;
    commit_batch(); clear_batch(); cur_ep = 0
  }
#endif

release:  /* step 6, in `finally`: a lease that expired shows only here */
  FAIL_POINT
  atomic {
    if
    :: holder == me -> EMIT(EV_lock_released, p, 0, 0); holder = 0
    :: holder == me && LAPSES_UNNOTICED -> EMIT(EV_lock_expired_before_release, p, 0, 0); holder = 0
    :: holder != me -> EMIT(EV_lock_expired_before_release, p, 0, 0)
    fi TENURE(0);
    if :: failed -> pass_raised() :: else -> skip fi
  }

cleanup:  /* step 7, after an apply only: one listing, then plans more than KEEP older than p */
  FAIL_POINT
  atomic {
#ifdef SAFE
    know_ep(); know_rb();
#endif
    l_ep = ep; l_rb = rb;
    for (g : 1 .. NGEN) {
      if :: g + KEEP < p -> know_ex(g) :: else -> skip fi;
      vic[g] = (ex[g] && g + KEEP < p);
#ifdef SAFE
      if :: vic[g] && (g == l_ep || g == l_rb) -> vic[g] = 0; EMIT(EV_cleanup_spared, g, p, 0) :: else -> skip fi
#endif
    };
    g = 0; v = 0;
#ifndef SAFE
    l_ep = 0; l_rb = 0;    /* legacy asks nothing of the references */
#endif
    next_victim()
  }

delete_victim:
  FAIL_POINT
  atomic {
    STEP_READY -> new_batch();
#ifdef SAFE
    /* facts.unchanged: re-assert both references in the batch, so it fails if either moved onto v */
    if
    :: l_ep != 0 -> add_change(A_DELETE, N_ENDPOINT, l_ep); add_change(A_CREATE, N_ENDPOINT, l_ep)
    :: else -> add_change(A_CREATE, N_ENDPOINT, v); add_change(A_DELETE, N_ENDPOINT, v)
    fi;
    if
    :: l_rb != 0 -> add_change(A_DELETE, N_ROLLBACK, l_rb); add_change(A_CREATE, N_ROLLBACK, l_rb)
    :: else -> add_change(A_CREATE, N_ROLLBACK, v); add_change(A_DELETE, N_ROLLBACK, v)
    fi;
#endif
    add_change(A_DELETE, N_PLAN, v);
    apply_batch(); EMIT_BATCH;
    if
    :: res_err == OK -> EMIT(EV_cleanup_deleted, v, p, 0)
    :: res_err == RecordSetMissing && res_idx + 1 == b_n -> EMIT(EV_cleanup_already_gone, v, p, 0)
    :: else -> failed = 1; err = res_err
    fi;
    commit_batch(); clear_batch();
    if :: failed -> pass_raised() :: else -> next_victim() fi
  }

#ifdef TRACE
infra:  /* (trace) a call failed outside the protocol, or the process was killed (trace_hooks.pml) */
  atomic {
    if
    :: NEXT_IS(EV_enactor_started) ->   /* SIGKILL: no event, no release; its lease lapses */
       if :: holder == me -> holder = 0 :: else -> skip fi;
       mine = 0; c_ep = 0; c_rb = 0; c_ok = 0; cur_ep = 0; l_ep = 0; l_rb = 0; v = 0; att = 0; failed = 0;
       for (g : 1 .. NGEN) { vic[g] = 0 };
       g = 0; err = 0; p = 0; last = 0; fails = 0; on_rollback = 0; repairing = 0; empty_seen = 0;
       goto restart
    :: else -> skip
    fi;
    if   /* the `finally` of a pass that held the lock: released, found expired, or failed too */
    :: mine && holder == me && NEXT_IS(EV_lock_released) -> EMIT(EV_lock_released, p, 0, 0); holder = 0
    :: mine && NEXT_IS(EV_lock_expired_before_release) ->
       EMIT(EV_lock_expired_before_release, p, 0, 0); if :: holder == me -> holder = 0 :: else -> skip fi
    :: mine && !NEXT_IS(EV_lock_released) && !NEXT_IS(EV_lock_expired_before_release) ->
       if :: holder == me -> holder = 0 :: else -> skip fi
    :: !mine -> skip
    fi;
    mine = 0; err = INFRA_ERROR; pass_failed(EV_apply_failed)
  }
#endif

#if !defined(SAFE) || defined(TRACE)
restart:  /* Docker's restart policy: the same code, no memory, the same zone */
  atomic { EMIT(EV_enactor_started, 0, 0, 0) }
  goto idle;
#endif

#ifdef SAFE
self_check:  /* resolve the endpoint through CoreDNS; an empty answer the zone explains is repaired */
  FAIL_POINT
  atomic {
    know_ep(); know_ex(ep); reload_maybe();
#ifdef TRACE
    if   /* what its previous self-check saw, before the recording: either */
    :: empty_seen_unknown -> empty_seen_unknown = 0; if :: empty_seen = 0 :: empty_seen = 1 fi
    :: else -> skip
    fi;
#endif
    if
    :: dns_empty && ZONE_PROBLEM ->
       g = ep; EMIT(EV_endpoint_empty_found, g, p, 0); g = 0; empty_seen = 1; repairing = 1; goto check
    :: !dns_empty && empty_seen -> empty_seen = 0; EMIT(EV_self_check_answering, 0, 0, 0)

    :: else -> skip
    fi;
    fails = 0; p = 0; goto idle     /* the pass returned: enactor.failures = 0 */
  }
#endif
}

#ifdef TRACE
#include "trace_procs.pml"
#endif

/* --- the properties ------------------------------------------------------------------------------
 * Safety, as assertions where the state they watch changes (compile with -DP_EXISTING, -DP_ROLLBACK,
 * -DP_FORWARD, -DP_RECOVERABLE; one run may check several):
 *   P1 endpoint_refers_to_existing_plan   the endpoint never aliases a plan whose record set is gone
 *   P2 no_failure_on_rollback             no apply is refused over its rollback change
 *   P3 generation_never_goes_back         the endpoint's generation never decreases
 *   P4 recoverable                        the endpoint and the rollback never both alias missing plans
 * Liveness (safe, -DLIVENESS, pan -a -f): once the faults stop, the endpoint reaches the newest plan. */
#ifdef LIVENESS
ltl reaches_newest_plan { (<> faults_over) -> <> [] (ep == NGEN && ex[NGEN]) }
#endif

init {
#ifdef TRACE
  trace_init();
#else
  atomic {
#ifdef START_APPLIED
    /* start from the lab at rest: plan 1 applied, answering; rollback empty */
    newest = 1; ep = 1; ex[1] = 1; dns_empty = 0;
#endif
    run LockClock();
#ifdef SAFE
    run CoreDns();
#endif
#ifdef OPERATOR
    run Operator();
#endif
    run Enactor(1); run Enactor(2); run Enactor(3)
  }
#endif
}
