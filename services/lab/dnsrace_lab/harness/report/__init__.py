"""The report: what a chaos run leaves behind, and how it reads.

    store/chaos/<time>-<mode>-<seed>/
        history.jsonl   everything that happened (history.py), the run's line first
        results.json    the verdict of each invariant, with its evidence and measures
        run.log         the run's own log; its first line is the seed and every parameter
        logs/<service>.log   each container's log during the run
        timeline.html   the resolver's (and the authoritative view's) answers over time as an inline SVG,
                        the endpoint's plan against the newest, each fault's window shaded and labelled,
                        the violations marked; the verdicts; the event timeline beneath. One file: no
                        script, no stylesheet or font fetched from anywhere.
    store/latest -> the newest run;  store/chaos/campaigns/<time>-<mode>.md: a campaign's table

    folder.py        run_folder, write_run (the folder above, and store/latest), rejudge
    tables.py        the text: row, summary, campaign_table, write_campaign (pure but the last)
    timeline_svg.py  render_timeline: timeline.html (pure)
A reproduce-outage run's folder (store/reproduce-outage/<time>-<mode>-<scenario>/) is the same.

    python3 -m dnsrace_lab.harness.report store/chaos/<run> [...]   judge a recorded history again (results.json,
                                                           timeline.html rewritten): the stack is not needed
"""

from __future__ import annotations

from dnsrace_lab.harness.report.folder import rejudge, run_folder, write_run
from dnsrace_lab.harness.report.tables import (ROW_HEADER, campaign_table, result_of, row, row_header, run_summary, summary,
                                               write_campaign)
from dnsrace_lab.harness.report.timeline_svg import render_timeline

__all__ = ["ROW_HEADER", "campaign_table", "rejudge", "render_timeline", "result_of", "row", "row_header", "run_folder",
           "run_summary", "summary", "write_campaign", "write_run"]
