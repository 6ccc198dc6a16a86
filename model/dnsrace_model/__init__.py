"""The Promela model of the protocol (model/dnsrace.pml), and the Python around it.

    codes      the event kinds and error codes the model shares with the code (model/events.pml)
    spin       running spin, gcc and pan, with timeouts (the only I/O)
    trail      a counterexample, as the timeline's own sentences
    trace      trace validation: a recorded run checked against the same model
    searches   `make model`: the exhaustive searches, both modes
"""
