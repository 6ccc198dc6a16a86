"""Break each protection of issues 12, 15, 23 and 27 (and the lab's own history) on purpose and check that the test named for it fails.

    /usr/bin/python3 tests/mutate_protections.py          # each mutation against the test file that should catch it
    /usr/bin/python3 tests/mutate_protections.py --full   # each mutation against the whole unit suite

A test earns trust by failing: each mutation below removes one protection, runs the unit tests, and
must make the named test fail (not merely some test). The script exits 1 if any mutation went
unnoticed or no longer applies. tests/mutate_safe.py does the same for safe mode's decisions.

It mutates a scratch copy of the tree (scratch_tree.py), never the tree itself.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scratch_tree import scratch_copy

TOP = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the repository
    before: str
    after: str
    caught_by: str  # tests/unit/<file>.py::<test function>: must be among the failures


MUTATIONS = [
    # --- the lock, the plan store, the planner, the client, the store (tests that could not fail) -----
    Mutation("lock granted while already held", "services/common/dnsrace/lock.py",
             "if holder then return {0, holder} end", "if false then return {0, holder} end",
             "tests/unit/test_lock.py::test_a_held_lock_is_refused_to_everyone_else_naming_the_holder"),
    Mutation("release deletes a lock it does not own", "services/common/dnsrace/lock.py",
             "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end",
             "return redis.call('DEL', KEYS[1])",
             "tests/unit/test_lock.py::test_a_holder_whose_lock_expired_and_was_taken_cannot_release_the_new_holders"),
    Mutation("lock without an expiry", "services/common/dnsrace/lock.py",
             "ARGV[1] .. ':' .. token, 'PX', ARGV[2])", "ARGV[1] .. ':' .. token)",
             "tests/unit/test_lock.py::test_the_first_caller_gets_the_lock_with_token_1_and_an_expiry"),
    Mutation("Redis deadline with asyncio.timeout (CancelledError escapes)", "services/common/dnsrace/deadline.py",
             "    task = asyncio.ensure_future(call)\n",
             "    async with asyncio.timeout(timeout_s):\n        return await call\n",
             "tests/unit/test_deadline.py::test_within_turns_the_same_call_into_a_timeout_and_leaves_the_caller_untouched"),
    # --- issue 27: no library's deadline kills a service --------------------------------------------------
    Mutation("the self-check gives dnspython a deadline of its own again", "services/enactor/dnsrace_enactor/dns_check.py",
             "port=self._port, timeout=None)", "port=self._port, timeout=self._timeout_s)",
             "tests/unit/test_deadline.py::test_the_self_check_gives_dnspython_no_deadline_of_its_own"),
    Mutation("the dns-admin client's deadline on the caller's task", "services/common/dnsrace/dns_admin_client.py",
             "            return await within(self._timeout_s, self._exchange(method, url, body))",
             "            async with __import__('asyncio').timeout(self._timeout_s):\n"
             "                return await self._exchange(method, url, body)",
             "tests/unit/test_deadline.py::test_the_dns_admin_client_says_unavailable_even_in_a_task_a_library_left_cancelled"),
    Mutation("a stray CancelledError leaves the apply loop", "services/enactor/dnsrace_enactor/apply_loop.py",
             "            except asyncio.CancelledError as cancelled:", "            except ZeroDivisionError as cancelled:",
             "tests/unit/test_deadline.py::test_a_stray_cancellation_in_a_safe_pass_is_an_apply_failure_and_the_loop_goes_on"),
    Mutation("an enactor dies of a BaseException without a word", "services/enactor/dnsrace_enactor/__main__.py",
             "    except BaseException as error:", "    except ZeroDivisionError as error:",
             "tests/unit/test_enactor_death.py::test_a_cancelled_error_that_escapes_is_still_a_crash_event_with_its_cause"),
    Mutation("plan store never updates the newest plan", "services/common/dnsrace/plan_store.py",
             "            pipe.set(_LATEST, generation)\n", "",
             "tests/unit/test_plan_store.py::test_each_publish_takes_the_next_generation_and_becomes_the_newest"),
    Mutation("plan store publishes what it would refuse to read", "services/common/dnsrace/plan_store.py",
             "Plan.from_json(Plan(1, tuple(endpoints), tuple(targets), time.time(), reason).to_json(),\n"
             "                               zone=self._zone)",
             "Plan(1, tuple(endpoints), tuple(targets), time.time(), reason)",
             "tests/unit/test_plan_store.py::test_a_plan_that_would_be_refused_when_read_is_never_published"),
    Mutation("planner publishes an empty plan", "services/planner/dnsrace_planner/__main__.py",
             "        if not targets:\n", "        if False:\n",
             "tests/unit/test_planner_loop.py::test_with_no_healthy_backend_no_plan_is_ever_published_and_it_is_said_once"),
    Mutation("planner plans unhealthy backends", "services/planner/dnsrace_planner/__main__.py",
             "if o.healthy and o.address and", "if o.address and",
             "tests/unit/test_planner_loop.py::test_an_unhealthy_backend_is_never_a_target"),
    Mutation("client no longer maps 404 to missing", "services/common/dnsrace/dns_admin_client.py",
             'if status == 404 and isinstance(payload, dict) and payload.get("error") == "RecordSetNotFound":',
             "if False:", "tests/unit/test_dns_admin_client.py::test_a_missing_record_set_reads_as_none"),
    Mutation("client maps every 404 to missing", "services/common/dnsrace/dns_admin_client.py",
             'if status == 404 and isinstance(payload, dict) and payload.get("error") == "RecordSetNotFound":',
             "if status == 404:",
             "tests/unit/test_dns_admin_client.py::test_a_404_that_is_not_a_missing_record_set_is_an_error_not_none"),
    Mutation("client sends an unnamed batch with no client", "services/common/dnsrace/dns_admin_client.py",
             'body["client"] = body["client"] or self._client', 'body.setdefault("client", self._client)',
             "tests/unit/test_dns_admin_client.py::test_the_client_name_travels_with_every_batch_into_the_audit"),
    Mutation("dns-admin runs SQLite with synchronous=OFF", "services/dns-admin/dnsrace_admin/store.py",
             'PRAGMA synchronous=FULL")', 'PRAGMA synchronous=OFF")',
             "tests/unit/test_dns_admin_engine.py::test_the_store_connection_syncs_every_commit_to_disk"),
    # --- hole 1: plans are trusted --------------------------------------------------------------------
    Mutation("plan endpoints taken as written", "services/common/dnsrace/plans.py",
             "endpoints = [normalize_endpoint(endpoint, zone=zone) for endpoint in endpoints_raw]",
             "endpoints = list(endpoints_raw)",
             "tests/unit/test_plan_store.py::test_a_plan_dns_admin_would_refuse_is_rejected_once_and_never_crashes_the_enactor"),
    Mutation("plan endpoints compared case-sensitively", "services/common/dnsrace/plans.py",
             "    return canonical\n", "    return endpoint  # type: ignore[return-value]\n",
             "tests/unit/test_plan_store.py::test_an_endpoint_spelled_in_capitals_is_the_same_endpoint_to_the_staleness_check"),
    Mutation("names derived from an endpoint not checked", "services/common/dnsrace/plans.py",
             "for derived in (plan_record_name(plan_id(GENERATION_MAX), canonical), rollback_record_name(canonical)):",
             "for derived in ():",
             "tests/unit/test_plans.py::test_an_endpoint_dns_admin_would_refuse_makes_the_plan_malformed"),
    Mutation("one plan_rejected per pass, not per plan", "services/enactor/dnsrace_enactor/apply_loop.py",
             "if str(error) != enactor.rejected:", "if True:",
             "tests/unit/test_plan_store.py::test_a_plan_dns_admin_would_refuse_is_rejected_once_and_never_crashes_the_enactor"),
    # --- hole 2: alias chains -------------------------------------------------------------------------
    Mutation("an alias may be created where an alias points", "services/common/dnsrace/batch_rules.py",
             "        if pointing:\n", "        if False:\n",
             "tests/unit/test_dns_admin_engine.py::test_deleting_an_alias_target_and_aliasing_its_name_is_refused_as_a_chain"),
    # --- hole 3: what a client sends reaches events, the audit, the timeline ------------------------
    Mutation("timeline prints sentences unescaped", "services/common/dnsrace/timeline.py",
             "    return one_line(_sentence(event))", "    return _sentence(event)",
             "tests/unit/test_timeline.py::test_a_newline_in_anything_an_event_carries_is_shown_escaped_on_the_same_line"),
    Mutation("messages quote claims unbounded", "services/common/dnsrace/records.py",
             'return text if len(text) <= CLAIM_SHOWN_MAX else f"{text[:CLAIM_SHOWN_MAX - 3]}..."', "return text",
             "tests/unit/test_dns_admin_engine.py::test_what_a_rejection_message_quotes_is_escaped_and_bounded"),
    Mutation("audit keeps a malformed batch's claims raw", "services/dns-admin/dnsrace_admin/engine.py",
             "return escaped(_claim(body, key))[:length_max]", "return _claim(body, key)[:length_max]",
             "tests/unit/test_dns_admin_engine.py::test_what_a_malformed_batch_claims_reaches_no_event_unless_it_is_valid"),
    Mutation("events carry a malformed batch's claims", "services/dns-admin/dnsrace_admin/engine.py",
             "        return validate(_claim(body, key))\n", "        return _claim(body, key)\n",
             "tests/unit/test_dns_admin_engine.py::test_what_a_malformed_batch_claims_reaches_no_event_unless_it_is_valid"),
    # --- hole 4: numbers JSON cannot carry ------------------------------------------------------------
    Mutation("1e400 parsed as infinity", "services/dns-admin/dnsrace_admin/http_api.py",
             "parse_float=_finite_float, parse_int=_bounded_int)", ")",
             "tests/unit/test_dns_admin_http.py::test_numbers_json_cannot_carry_back_out_are_refused_at_the_door"),
    # --- hole 5: lost audit rows ----------------------------------------------------------------------
    Mutation("store writes text UTF-8 cannot hold", "services/dns-admin/dnsrace_admin/store.py",
             'return text.encode("utf-8", "backslashreplace").decode("utf-8")', "return text",
             "tests/unit/test_dns_admin_engine.py::test_the_store_keeps_a_row_whose_text_utf8_cannot_hold"),
    Mutation("a request refused at the door leaves no row", "services/dns-admin/dnsrace_admin/http_api.py",
             "        await engine.refuse_unread(error)\n", "",
             "tests/unit/test_dns_admin_http.py::test_every_refused_request_leaves_exactly_one_audit_row"),
    # --- hole 6: bounds -------------------------------------------------------------------------------
    Mutation("zone without a size cap", "services/common/dnsrace/batch_rules.py",
             "if len(working) > record_set_count_max and len(working) > len(current):", "if False:",
             "tests/unit/test_dns_admin_engine.py::test_a_full_zone_refuses_growth_but_takes_batches_that_keep_or_shrink_it"),
    Mutation("a full zone refuses batches that do not grow it", "services/common/dnsrace/batch_rules.py",
             "if len(working) > record_set_count_max and len(working) > len(current):",
             "if len(working) > record_set_count_max:",
             "tests/unit/test_dns_admin_engine.py::test_a_full_zone_refuses_growth_but_takes_batches_that_keep_or_shrink_it"),
    Mutation("the engine's lock waited for without a bound", "services/dns-admin/dnsrace_admin/engine.py",
             "                await within(LOCK_WAIT_S, self._lock.acquire(), undo=lambda _taken: self._lock.release())",
             "                await self._lock.acquire()",
             "tests/unit/test_dns_admin_engine.py::test_a_batch_waits_for_the_lock_within_a_bound_then_is_refused_busy"),
    Mutation("the store waited for without a bound", "services/dns-admin/dnsrace_admin/engine.py",
             "return await within(STORE_WAIT_S, asyncio.shield(future))", "return await future",
             "tests/unit/test_dns_admin_engine.py::test_a_store_that_stops_answering_is_a_503_and_memory_catches_up_before_the_next_batch"),
    Mutation("no reload after a store timeout", "services/dns-admin/dnsrace_admin/engine.py",
             "                if self._reload_needed:\n", "                if False:\n",
             "tests/unit/test_dns_admin_engine.py::test_a_store_that_stops_answering_is_a_503_and_memory_catches_up_before_the_next_batch"),
    Mutation("a bench command without a timeout", "bench/bench.py",
             'cpu = subprocess.run(["nproc"], capture_output=True, text=True, timeout=QUICK_COMMAND_TIMEOUT_S)',
             'cpu = subprocess.run(["nproc"], capture_output=True, text=True)',
             "tests/unit/test_bounds.py::test_every_command_run_by_a_service_or_the_bench_has_a_timeout"),
    # --- the console and who may change anything (issue 15) ------------------------------------------
    Mutation("the token compared with == (not in constant time)", "services/dns-admin/dnsrace_admin/auth.py",
             'if not hmac.compare_digest(match.group(1).encode("utf-8", "replace"), token.encode("utf-8")):',
             "if match.group(1) != token:",
             "tests/unit/test_dns_admin_auth.py::test_the_token_is_compared_in_constant_time"),
    Mutation("no Origin check", "services/dns-admin/dnsrace_admin/auth.py",
             "    if origin is None:\n        return", "    if True:\n        return",
             "tests/unit/test_dns_admin_auth.py::test_another_sites_page_is_refused_even_with_the_token"),
    Mutation("writes not guarded", "services/dns-admin/dnsrace_admin/http_api.py",
             "    if request.method in READ_METHODS:\n        return await handler(request)",
             "    if True:\n        return await handler(request)",
             "tests/unit/test_dns_admin_auth.py::test_a_batch_without_a_token_is_401_changes_nothing_and_leaves_its_audit_row"),
    Mutation("a batch refused for its token leaves no audit row", "services/dns-admin/dnsrace_admin/http_api.py",
             '        if request.path == "/v1/changes":', "        if False:",
             "tests/unit/test_dns_admin_auth.py::test_a_batch_without_a_token_is_401_changes_nothing_and_leaves_its_audit_row"),
    Mutation("the alert never sees the endpoint go back", "services/dns-admin/dnsrace_admin/console/alert.py",
             "        elif generation is not None and generation < newest_live:", "        elif False:",
             "tests/unit/test_console_alert.py::test_going_back_is_an_alert_even_while_the_endpoint_still_answers"),
    Mutation("follow-ons taken from outside the episode", "services/dns-admin/dnsrace_admin/console/alert.py",
             "if event.kind not in FOLLOW_ON_KINDS or not start <= event.t <= end:",
             "if event.kind not in FOLLOW_ON_KINDS:",
             "tests/unit/test_console_alert.py::test_follow_ons_are_grouped_under_the_alert_and_never_raised_on_their_own"),
    Mutation("clients' empty answers after a fix ignored", "services/dns-admin/dnsrace_admin/console/alert.py",
             "    elif now.resolver.empty:", "    elif False:",
             "tests/unit/test_console_alert.py::test_clients_holding_a_cached_empty_answer_after_a_fix_is_recovering_then_clears"),
    Mutation("the repair without its compare-and-swap", "services/dns-admin/dnsrace_admin/console/repair.py",
             "    changes = [Change(\"DELETE\", current)] if current is not None else []", "    changes = []",
             "tests/unit/test_console_panels.py::test_the_repair_points_at_the_newest_existing_plan_and_clears_the_rollback_as_a_compare_and_swap"),
    Mutation("the repair ignores the plan the operator confirmed", "services/dns-admin/dnsrace_admin/console/repair.py",
             "    if expect_target is not None and newest < generation_of_plan_id(expect_target):",
             "    if False:",
             "tests/unit/test_console_http.py::test_repair_refuses_a_plan_older_than_confirmed_and_a_bad_body"),
    # --- issue 23: the lease manager's safe design, one field at a time -------------------------------------
    Mutation("safe admits work whatever the queue's length", "services/ec2/dnsrace_ec2/lease_policy.py",
             "    return not policy.admission or queue_length < limit", "    return True",
             "tests/unit/test_lease_policy.py::test_admission_refuses_only_in_safe_and_only_when_the_queue_is_full"),
    Mutation("safe queues a second attempt for a droplet", "services/ec2/dnsrace_ec2/lease_policy.py",
             "    return not policy.one_outstanding or outstanding == 0", "    return True",
             "tests/unit/test_lease_policy.py::test_safe_allows_one_outstanding_attempt_per_droplet"),
    Mutation("safe works attempts already past their deadline", "services/ec2/dnsrace_ec2/lease_policy.py",
             "    return not policy.drop_expired or now <= deadline", "    return True",
             "tests/unit/test_lease_policy.py::test_safe_drops_expired_work_at_dequeue_and_legacy_works_it"),
    Mutation("safe retries without paying from the budget", "services/ec2/dnsrace_ec2/lease_book.py",
             "            if self.policy.retry_budget and self.attempts[i] > 0 and not self.bucket.take(now):",
             "            if False:",
             "tests/unit/test_lease_policy.py::test_safe_retries_are_paid_from_the_budget"),
    Mutation("a late success counted as a lease", "services/ec2/dnsrace_ec2/lease_book.py",
             "            if attempt.spell == self.spell[i] and now <= attempt.deadline:",
             "            if attempt.spell == self.spell[i]:",
             "tests/unit/test_lease_policy.py::test_success_in_time_establishes_the_lease_and_a_late_one_does_not"),
    Mutation("(7) counts leases from before DNS came back", "services/lab/dnsrace_lab/harness/checker/leases_recover.py",
             "    recovered = next((line for line in after if", "    recovered = next((line for line in lines if",
             "tests/unit/test_leases_recover.py::test_the_moment_dns_came_back_is_the_resolvers_not_an_earlier_fraction"),
    # --- a batch committed and never reported (chaos safe seed 12): dns-admin reports it again at start ----
    Mutation("a lost batch is not looked for", "services/dns-admin/dnsrace_admin/lost_events.py",
             "    return [row for row in recent if row.t >= stream_start_s and row.change_id not in seen]",
             "    return []",
             "tests/unit/test_dns_admin_lost_events.py::test_the_batch_whose_event_was_lost_is_appended_again_where_it_happened"),
    Mutation("a reset lab's old batches reported into its new history", "services/dns-admin/dnsrace_admin/lost_events.py",
             "row.t >= stream_start_s and row.change_id", "row.change_id",
             "tests/unit/test_dns_admin_lost_events.py::test_only_rows_committed_after_the_stream_began_are_compared"),
    Mutation("a batch reported again at its new time, not its commit's", "services/dns-admin/dnsrace_admin/lost_events.py",
             "    return Event(t=row.t, service=service,", "    return Event(t=__import__('time').time(), service=service,",
             "tests/unit/test_dns_admin_lost_events.py::test_the_batch_whose_event_was_lost_is_appended_again_where_it_happened"),
    Mutation("a batch reported again and printed before the crash counted twice", "services/lab/dnsrace_lab/harness/history.py",
             'if event.get("kind") == "batch_accepted" and change_id:', 'if False:',
             "tests/unit/test_history_merge.py::test_a_batch_reported_again_at_start_and_printed_before_the_crash_is_one_batch"),
    # --- make chaos CASCADE=1: the lease manager as a target --------------------------------------------------
    Mutation("(7) judged from the resolver alone while the storage node is still cut off",
             "services/lab/dnsrace_lab/harness/checker/leases_recover.py",
             "    cuts = [w.stop for w in windows if w.fault == STORAGE_CUT and w.stop is not None]",
             "    cuts: list[float] = []",
             "tests/unit/test_leases_recover.py::test_a_storage_cut_that_outlasts_the_resolvers_outage_moves_the_moment_to_its_stop"),
    Mutation("a storage cut too short for every lease to lapse", "services/lab/dnsrace_lab/chaos/generator.py",
             "CASCADE_TTLS = (1.5, 2.5)", "CASCADE_TTLS = (0.5, 2.5)",
             "tests/unit/test_chaos_generator.py::test_a_cascade_schedule_is_the_same_schedule_plus_one_cut_of_the_storage_node"),
    Mutation("(4) timed from the end of the storage cut", "services/lab/dnsrace_lab/harness/checker/__init__.py",
             "    dns = [w for w in windows if w.fault != STORAGE_CUT]", "    dns = list(windows)",
             "tests/unit/test_chaos_checker.py::test_4_is_judged_from_the_dns_faults_not_from_the_end_of_a_longer_storage_cut"),
    Mutation("a stream read cut short taken as complete", "services/dns-admin/dnsrace_admin/lost_events.py",
             "        if len(entries) >= ENTRIES_READ_MAX:\n            raise TooManyEntries(",
             "        if len(entries) >= ENTRIES_READ_MAX:\n            return entries\n            raise TooManyEntries(",
             "tests/unit/test_dns_admin_lost_events.py::test_a_stream_too_long_to_read_is_left_unchecked_never_reported_twice"),
    # --- the cascade, act 2: the load balancer's health checks (issue 24) ----------------------------------
    Mutation("safe removes capacity without a velocity cap", "services/ec2/dnsrace_ec2/nlb_policy.py",
             "    return max(0, min(cap - recent, in_service - floor_of(policy, total)))",
             "    return max(0, in_service - floor_of(policy, total))",
             "tests/unit/test_nlb_policy.py::test_safe_removes_at_most_the_cap_and_says_what_it_held_back"),
    Mutation("safe removes capacity below its floor", "services/ec2/dnsrace_ec2/nlb_policy.py",
             "    return max(0, min(cap - recent, in_service - floor_of(policy, total)))",
             "    return max(0, cap - recent)",
             "tests/unit/test_nlb_policy.py::test_safe_never_removes_below_its_floor_of_half_the_targets"),
    Mutation("safe never fails open", "services/ec2/dnsrace_ec2/nlb_policy.py",
             "    return policy.fail_open_share is not None and total > 0 and unhealthy / total > policy.fail_open_share",
             "    return False",
             "tests/unit/test_nlb_policy.py::test_safe_fails_open_when_more_than_half_look_unhealthy"),
    Mutation("safe's checks judged from their scheduling (queueing counts)", "services/ec2/dnsrace_ec2/nlb_policy.py",
             "    return (scheduled if policy.deadline_from_schedule else started) + timeout_s",
             "    return scheduled + timeout_s",
             "tests/unit/test_nlb_policy.py::test_legacy_counts_a_checks_queueing_against_its_deadline_and_safe_does_not"),
    Mutation("safe doubles a target's checks", "services/ec2/dnsrace_ec2/nlb_policy.py",
             "    return [name for name in due if name not in busy]", "    return due",
             "tests/unit/test_nlb_policy.py::test_legacy_rechecks_failing_targets_between_intervals_and_safe_never_doubles_a_check"),
    Mutation("Network Manager starts launches whatever its backlog", "services/ec2/dnsrace_ec2/netmgr_book.py",
             "    return not policy.admission or queue_length < limit", "    return True",
             "tests/unit/test_nlb_policy.py::test_netmgr_safe_tells_launches_to_wait_while_the_queue_is_full"),
    Mutation("safe's launch takes its slot before its networking (break before make)",
             "services/ec2/dnsrace_ec2/netmgr_book.py",
             "        return self._start(now, slot, at_once=not self.make_before_break), slot",
             "        return self._start(now, slot, at_once=True), slot",
             "tests/unit/test_nlb_policy.py::test_safe_makes_before_it_breaks_a_launch_serves_only_once_networked"),
    Mutation("(8) blind to an answering target taken out", "services/lab/dnsrace_lab/harness/checker/network.py",
             "        if detail.get(\"networked\") and since is not None and float(e[\"t\"]) - float(since) >= grace_s:",
             "        if False:",
             "tests/unit/test_network_checker.py::test_8_breaks_on_an_answering_target_taken_out"),
    Mutation("(9) judges the clients from DNS's return, not from its bound",
             "services/lab/dnsrace_lab/harness/checker/network.py",
             "    late = [line for line in bad if line[\"t\"] > back + bound]", "    late = bad",
             "tests/unit/test_network_checker.py::test_9_judges_the_clients_from_the_bound_after_dns_came_back"),
    Mutation("(9) counts its bound from DNS's return while a propagation storm still runs",
             "services/lab/dnsrace_lab/harness/checker/network.py",
             "    if storms and (back is None or max(storms) > back):", "    if False:",
             "tests/unit/test_network_checker.py::test_9_counts_its_bound_from_the_end_of_a_propagation_storm_that_outlasts_dns"),
    Mutation("(1)-(6) count the propagation storm as the DNS automation's fault",
             "services/lab/dnsrace_lab/harness/checker/__init__.py",
             "    return [w for w in windows if w.fault not in (STORAGE_CUT, PROPAGATION_STORM)]",
             "    return [w for w in windows if w.fault not in (STORAGE_CUT,)]",
             "tests/unit/test_network_checker.py::test_1_to_6_and_7_leave_the_propagation_storm_out"),
    Mutation("the chaos run stops recording for (9) while a storm's backlog is still queued",
             "services/lab/dnsrace_lab/harness/recording.py",
             "                and float(net.get(\"head_age_s\") or 0) < 1.0 and int(net.get(\"without_network\") or 0) == 0",
             "                and int(net.get(\"without_network\") or 0) == 0",
             "tests/unit/test_wait_for_clients.py::test_a_backlog_still_queued_or_a_dark_slot_is_not_calm_the_wait_runs_to_the_bound"),
    Mutation("a slow outcome counted into a window already handed off", "services/ec2/dnsrace_ec2/steady.py",
             "        outcome = await one()\n        outcomes[outcome] += 1", "        outcomes[await one()] += 1",
             "tests/unit/test_steady.py::test_a_slow_outcome_is_counted_in_the_window_current_when_it_ends"),
    Mutation("the trace's tables in one inline, too long for spin", "model/dnsrace_model/trace.py",
             "if chunk and (len(chunk) >= D_STEP_LINES_MAX or size + len(line) + 5 > INLINE_CHARS_MAX):",
             "if chunk and len(chunk) >= 1_000_000:",
             "tests/unit/test_chaos_conformance.py::test_a_chaos_run_is_a_behaviour_of_the_model_whole"),
]


def failures(output: str) -> list[str]:
    """Node ids from pytest's short summary (-rfE): 'FAILED tests/...::test_x[param] - message'."""
    return [line.split()[1] for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]


def run(root: Path, mutation: Mutation, full: bool) -> tuple[bool, str]:
    target = "tests/unit" if full else mutation.caught_by.split("::")[0]
    result = subprocess.run([sys.executable, "-m", "pytest", target, "-q", "-rfE", "-p", "no:cacheprovider"],
                            cwd=root, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    failed = failures(result.stdout)
    caught = any(node == mutation.caught_by or node.startswith(mutation.caught_by + "[") for node in failed)
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    return caught, f"{summary}; {len(failed)} failing, the named test {'among them' if caught else 'NOT among them'}"


def main() -> int:
    full = "--full" in sys.argv[1:]
    missed = []
    root = scratch_copy(TOP)
    try:
        for mutation in MUTATIONS:
            path = root / mutation.path
            original = path.read_text()
            if original.count(mutation.before) != 1:
                print(f"STALE   {mutation.name}: {mutation.path} no longer holds the code it mutates exactly once")
                missed.append(mutation.name)
                continue
            try:
                path.write_text(original.replace(mutation.before, mutation.after, 1))
                caught, summary = run(root, mutation, full)
            finally:
                path.write_text(original)
            print(f"{'caught ' if caught else 'MISSED '} {mutation.name} -> {mutation.caught_by.split('/')[-1]}: {summary}")
            if not caught:
                missed.append(mutation.name)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{len(MUTATIONS) - len(missed)} of {len(MUTATIONS)} mutations caught by the test named for them")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
