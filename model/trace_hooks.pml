/* trace_hooks.pml: what -DTRACE changes in dnsrace.pml, to check a recorded run against the model.
 *
 * model/dnsrace_model/trace.py turns a run's events into per-process queues (planner, enactor-a..c,
 * operator) and writes them, with the bounds and the start, into a wrapper that includes
 * dnsrace.pml. Every EMIT then becomes a guard: a step of the model is possible only if the next
 * recorded event of its process is the event the step emits, with the same arguments; the step
 * consumes it. Steps with no event in the code (reads, a lease expiring, CoreDNS reloading) are
 * free. Spin then searches for an execution of the model that consumes every recorded event: the
 * assertion `taken < TR_N` failing is the witness that the run is a behaviour of the model. If
 * none exists, the search ends without error, and @@LOW says how far the model got.
 *
 * Order: each process's events are taken in the order it emitted them. Across processes only what
 * the system itself orders is imposed (tr_after): dns-admin's batches in the order dns-admin
 * answered them, lock tenures in the order of their tokens. Everything else may interleave as the
 * model allows, so timestamps taken on different hosts are never trusted to order two events.
 *
 * Needs, defined by the wrapper: TR_N (events), TR_NEWEST0 (the newest plan when the recording
 * starts), and inline trace_data() filling the tables below. */

#define ANY   255     /* a recorded argument the model does not compare */
#define NPROC 5       /* 0 planner, 1..3 enactor-a..c, 4 operator (any other client of dns-admin) */

short cur[NPROC];     /* the next recorded event of each process */
short taken;          /* events consumed so far (a function of cur: it adds no state) */
bit   dead;           /* a step emitted what the record does not have next: not the run (pruned) */

hidden byte  tr_proc[TR_N];            /* the process that emitted it */
hidden byte  tr_kind[TR_N];            /* EV_* */
hidden byte  tr_a[TR_N];               /* the EMIT arguments, or ANY */
hidden byte  tr_b[TR_N];
hidden byte  tr_c[TR_N];
hidden short tr_after[TR_N];           /* 1 + the event that must be taken before it (0: none) */
hidden short tr_rank[TR_N];            /* its place in the timeline (by time, then seq) */
hidden byte  tr_bn[TR_N];              /* a batch: its changes (ANY: not recorded, see tr_b*[0]) */
hidden byte  tr_bact[TR_N * MAXCH];    /* accepted: every change; rejected: the failing one in [0] */
hidden byte  tr_bname[TR_N * MAXCH];
hidden byte  tr_bval[TR_N * MAXCH];
hidden short tr_end[NPROC];            /* one past each process's last event */
hidden byte  tr_down[NPROC];           /* the enactor was down (crashed) when the recording starts */

c_decl {
  int best_low = -1;   /* the furthest the model got: every event before this rank was taken */
}

#define MORE            (cur[me] < tr_end[me])
#define NEXT_IS(k)      (MORE && tr_kind[cur[me]] == (k))
#define FIELD(arr, v)   (arr[cur[me]] == ANY || arr[cur[me]] == (v))
#define CONSUMED(i)     (cur[tr_proc[i]] > (i))
#define STEP_READY      (MORE && (tr_after[cur[me]] == 0 || CONSUMED(tr_after[cur[me]] - 1)))
#define EMIT(k, a, b, c) \
  if \
  :: MORE && tr_kind[cur[me]] == (k) && FIELD(tr_a, a) && FIELD(tr_b, b) && FIELD(tr_c, c) -> take() \
  :: else -> dead = 1 \
  fi
/* After a batch, the code may never see its answer (a lost answer: the batch happened, or was
 * refused, and the enactor's call failed anyway): the batch is the zone's, and the pass fails there. */
#define EMIT_BATCH      emit_batch(); \
                        if \
                        :: !dead && INFRA_ESCAPE -> commit_batch(); clear_batch(); goto infra \
                        :: else -> skip \
                        fi
#define SLOT(j)         (cur[me] * MAXCH + (j))

/* --- failures outside the protocol (the chaos campaign's faults) --------------------------------
 * Any call an enactor makes can fail for a reason the protocol does not decide: no answer from
 * dns-admin, a reset connection, Redis gone. The code then ends the pass: its lock is released in
 * `finally` (or found expired, or the release fails too), and legacy's process dies
 * (enactor_crashed, INFRA_ERROR) while safe records apply_failed and backs off. SIGKILL ends it with
 * no event at all; the restart says enactor_started. So, before each step that calls out, an enactor
 * whose next recorded event is such a failure (or a release followed by one) takes that path instead
 * (label `infra` in dnsrace.pml); nothing else can take it, so a run without such events is checked
 * exactly as before. */
#define IS_INFRA_AT(i)  (tr_kind[i] == EV_apply_failed || (tr_kind[i] == EV_enactor_crashed && tr_a[i] == INFRA_ERROR))
#define RELEASE_AT(i)   (tr_kind[i] == EV_lock_released || tr_kind[i] == EV_lock_expired_before_release)
#define INFRA_FOLLOWS   (MORE && (IS_INFRA_AT(cur[me]) \
                         || (mine && RELEASE_AT(cur[me]) && cur[me] + 1 < tr_end[me] && IS_INFRA_AT(cur[me] + 1))))
#define INFRA_ESCAPE    (INFRA_FOLLOWS || NEXT_IS(EV_enactor_started))
#define FAIL_POINT      if :: INFRA_ESCAPE -> goto infra :: true -> skip fi;   /* or later: it may fail at a later call */
#define TENURE(v)       ; mine = v

/* consume the event: progress is printed by pan as it grows (the search never backtracks it) */
#define take() take_of(me)
inline take_of(q) {
  cur[q]++; taken++;
  c_code {
    int q, low = TR_N;
    for (q = 0; q < NPROC; q++) {
      if (now.cur[q] < tr_end[q] && tr_rank[now.cur[q]] < low) low = tr_rank[now.cur[q]];
    }
    if (low > best_low) { best_low = low; printf("@@LOW %d\n", low); }
  };
  assert(taken < TR_N)   /* fails when every recorded event was taken: the run is a behaviour */
}

/* the batch just applied (b_*, res_*) is the next recorded batch of this process: same outcome,
 * same changes (all of them when accepted; the failing one when rejected, as its message names it) */
inline emit_batch() {
  bm = (MORE && ((tr_kind[cur[me]] == EV_batch_accepted && res_err == OK)
              || (tr_kind[cur[me]] == EV_batch_rejected && res_err != OK
                  && FIELD(tr_a, res_err) && FIELD(tr_b, res_idx))));
  if
  :: bm && tr_bn[cur[me]] != ANY ->
     bm = (tr_bn[cur[me]] == b_n); b_i = 0;
     do
     :: bm && b_i < b_n ->
        bm = (tr_bact[SLOT(b_i)] == b_act[b_i] && tr_bname[SLOT(b_i)] == b_name[b_i]
              && tr_bval[SLOT(b_i)] == b_val[b_i]);
        b_i++
     :: else -> break
     od
  :: bm && tr_bn[cur[me]] == ANY && tr_bact[SLOT(0)] != ANY ->
     bm = (tr_bact[SLOT(0)] == b_act[res_idx] && tr_bname[SLOT(0)] == b_name[res_idx]
           && tr_bval[SLOT(0)] == b_val[res_idx])
  :: else -> skip
  fi;
  if
  :: bm -> take()
  :: else -> dead = 1
  fi;
  bm = 0; b_i = 0
}

/* --- the lock's clock, lazily: a lease that lapses is seen only when another enactor takes the
 * lock over, or when its holder releases it and finds it expired. So a trace check lets it lapse
 * exactly then (and only if the holder's next release is recorded as expired): the same events as
 * a clock expiring it at any moment before, without the states of every such moment. */
hidden byte tr_lapse[TR_N];   /* this process's next release, from this event on, found it expired */
hidden byte tr_group[TR_N];   /* a refusal right after one of the same tenure (holder:token) */
#define SAME_TENURE_REFUSAL (MORE && tr_group[cur[me]])
#define LEASE_LAPSES(h)   (cur[h] >= tr_end[h] || tr_lapse[cur[h]])
#define TAKEOVER          (holder != 0 && holder != me && LEASE_LAPSES(holder))
#define LAPSES_UNNOTICED  true

/* --- the planner and CoreDNS, lazily: only an enactor's read of the newest plan observes a
 * publication, and only a self-check observes what CoreDNS loaded. So the plans published since the
 * last read are taken at the next read (any number of them), and CoreDNS may reload after any
 * change to the zone (or just before a self-check): every moment at which what they did can be seen,
 * and none at which it cannot. The planner's own step is left for plans nobody reads before the end. */
inline publish_lazily() {
  do
  :: cur[0] < tr_end[0] && tr_kind[cur[0]] == EV_plan_created && tr_a[cur[0]] == newest + 1 ->
     newest++; take_of(0)
  :: break
  od
}

/* A read of the newest plan is followed by the event that names it: a check (check_passed,
 * plan_skipped) or a self-check's repair (endpoint_empty_found). A read of any other plan cannot
 * lead there, so it is dropped now rather than after every interleaving of its wait. A read that
 * is followed by a failure outside the protocol (apply_failed) names the plan it read too.
 * Except (safe) a read that finds no newer plan after failed passes: its self-check may answer and
 * the pass end in silence, resetting the failures, and the next event then belongs to a later pass
 * (seed 27044: Redis back, plan 6 read again, failures reset; then plan 7 failed as failure 1). */
#ifdef SAFE
#define MAY_END_SILENTLY  (newest <= last && fails > 0)
#else
#define MAY_END_SILENTLY  false
#endif
inline read_must_lead_on() {
  if
  :: !MAY_END_SILENTLY && (NEXT_IS(EV_check_passed) || NEXT_IS(EV_plan_skipped)) && tr_a[cur[me]] != newest -> dead = 1
  :: NEXT_IS(EV_endpoint_empty_found) && tr_b[cur[me]] != newest -> dead = 1
  :: !MAY_END_SILENTLY && NEXT_IS(EV_apply_failed) && tr_a[cur[me]] != 0 && tr_a[cur[me]] != newest -> dead = 1
  :: else -> skip
  fi
}

#define READERS_DONE (cur[1] >= tr_end[1] && cur[2] >= tr_end[2] && cur[3] >= tr_end[3])

/* --- the start of a recorded run: not recorded, so learnt as it is read -------------------------
 * The zone when the recording starts is whatever the plans published so far allow: each plan's
 * record set there or not, either alias at any of them or absent. Rather than choosing all of it at
 * the start (most of which nothing reads for a long time, multiplying every state after it), each
 * part is chosen when first read, and is known from then on: the same executions, far fewer states. */
bit ep_known;
bit rb_known;
bit ex_known[NGEN + 1];

#define LAST_UNKNOWN_VALUE 255
#define LAST_UNKNOWN       (last == LAST_UNKNOWN_VALUE)
/* An idle pass is taken only towards the enactor's next recorded event (a pass that emits nothing
 * changes nothing another process or a later event of its own can see, but resetting failures). */
#define SELF_CHECK_WORTH   (fails > 0 || NEXT_IS(EV_endpoint_empty_found) || NEXT_IS(EV_self_check_answering))
#define READ_WORTH         (NEXT_IS(EV_check_passed) || NEXT_IS(EV_plan_skipped) \
                            || (NEXT_IS(EV_apply_failed) && tr_a[cur[me]] != 0))   /* read, then failed */
#define ZONE_KNOWN         (ep_known && (ep == 0 || ex_known[ep]))

#ifdef SAFE
inline reload_maybe() {
  if
  :: ZONE_KNOWN && dns_empty != ZONE_PROBLEM -> dns_empty = ZONE_PROBLEM
  :: true
  fi
}
#else
#define reload_maybe() skip
#endif

inline know_ep() {
  if
  :: !ep_known -> ep_known = 1; ep = 0;
     do
     :: ep < TR_NEWEST0 -> ep++
     :: break
     od
  :: else -> skip
  fi
}

inline know_rb() {
  if
  :: !rb_known -> rb_known = 1; rb = 0;
     do
     :: rb < TR_NEWEST0 -> rb++
     :: break
     od
  :: else -> skip
  fi
}

inline know_ex(gen) {
  if
  :: gen > 0 && !ex_known[gen] ->
     ex_known[gen] = 1;
     if
     :: skip
     :: gen <= TR_NEWEST0 -> ex[gen] = 1      /* a plan not yet published has no record set */
     fi
  :: else -> skip
  fi
}

/* before a batch: what it touches (its aliases, its plans' record sets) */
inline know_batch() {
  b_i = 0;
  do
  :: b_i < b_n ->
     if
     :: b_name[b_i] == N_ENDPOINT -> know_ep()
     :: b_name[b_i] == N_ROLLBACK -> know_rb()
     :: else -> skip
     fi;
     know_ex(b_val[b_i]);
     b_i++
  :: else -> break
  od;
  b_i = 0
}

/* An enactor between passes when the recording starts had finished with the newest plan, or not:
 * it matters only if it reads the plans before a newer one is published, so it is chosen then. */
inline resolve_last() {
  if
  :: LAST_UNKNOWN && newest == TR_NEWEST0 && TR_NEWEST0 > 0 ->
     if
     :: last = TR_NEWEST0
     :: last = TR_NEWEST0 - 1
     fi
  :: LAST_UNKNOWN && !(newest == TR_NEWEST0 && TR_NEWEST0 > 0) -> last = TR_NEWEST0
  :: else -> skip
  fi
}

/* Where the recording found an enactor: down (it starts, as after a crash), or between passes. */
inline trace_enactor_start() {
  if
  :: tr_down[me] -> atomic { EMIT(EV_enactor_started, 0, 0, 0) }
  :: else -> last = LAST_UNKNOWN_VALUE;
#ifdef SAFE
     empty_seen_unknown = 1
#endif
  fi
}

/* The run's processes, from the start of the recording; CoreDNS had loaded the zone, or not yet. */
inline trace_init() {
  trace_data();
  atomic {
    newest = TR_NEWEST0;
    if
    :: dns_empty = 0
    :: dns_empty = 1
    fi;
    run Planner(); run Operator();
    run Enactor(1); run Enactor(2); run Enactor(3)
  }
}
