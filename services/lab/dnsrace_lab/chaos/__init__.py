"""make chaos: a randomized, seeded fault campaign on the live stack (Jepsen's shape).

    campaign.py   the command (`python3 -m dnsrace_lab.chaos`): reset, schedule, probes, faults, recovery,
                  history, verdicts, one run after another
    generator.py  the seeded fault schedule (pure), and the fault language the nemesis speaks (FaultSpec)
Recording, judging and reporting a run are the harness's (dnsrace_lab.harness), shared with reproduce-outage.
"""
