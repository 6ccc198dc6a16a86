/* trace_procs.pml: the operator of a recorded run (-DTRACE; see trace_hooks.pml). */

/* Anybody else who sends dns-admin a batch (an operator's deletion or repair): the recorded batch,
 * as sent, through the same rules. A refused one changed nothing and is only consumed. */
proctype Operator() {
  byte me = 4;
  bit bm;
  byte k;
end_operator:
  do
  :: atomic {
       STEP_READY && tr_kind[cur[me]] == EV_batch_accepted && tr_bn[cur[me]] != ANY ->
       new_batch(); k = 0;
       do
       :: k < tr_bn[cur[me]] -> add_change(tr_bact[SLOT(k)], tr_bname[SLOT(k)], tr_bval[SLOT(k)]); k++
       :: else -> break
       od;
       k = 0; apply_batch(); emit_batch(); commit_batch(); clear_batch()
     }
  :: atomic { STEP_READY && tr_kind[cur[me]] == EV_batch_rejected -> take() }
  od
}

/* An execution in which some step emitted an event that is not the next one recorded is not the run:
 * the claim stops following it, so spin drops it at once rather than exploring what follows. */
never {
  do
  :: !dead
  od
}
