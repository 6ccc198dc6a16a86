"""The DNS planner: watches backend health and publishes numbered plans."""
