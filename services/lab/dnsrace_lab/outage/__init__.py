"""make reproduce-outage: the October 2025 race (or a manual deletion), driven step by step on the live
stack, recorded and judged by the harness's one checker.

    run.py        the command (`python3 -m dnsrace_lab.outage`): one scenario, its history, its verdicts
    scenarios.py  the scenarios as fixed, evidence-triggered schedules (race, pause, manual-delete)
    narrate.py    the story told from the recorded events, and the source line that crashed
"""
