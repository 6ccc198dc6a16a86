"""The enactor's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from dnsrace.config import env_choice, env_int, env_str

MODES = ("legacy", "safe")


@dataclass(frozen=True)
class Settings:
    service: str
    mode: str
    zone: str
    redis_url: str
    dns_admin_url: str
    dns_admin_token: str
    keep_generations: int
    poll_interval_ms: int
    lock_ttl_ms: int
    lock_attempts_max: int
    lock_backoff_base_ms: int
    lock_backoff_cap_ms: int
    redis_timeout_ms: int
    dns_admin_timeout_ms: int
    plan_ttl_s: int
    retry_count_max: int
    self_check_host: str
    self_check_port: int
    self_check_timeout_ms: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            service=env_str("SERVICE_NAME", pattern=r"[a-z0-9-]{1,40}"),
            mode=env_choice("ENACTOR_MODE", "legacy", MODES),
            zone=env_str("ZONE", "lab.test"),
            redis_url=env_str("REDIS_URL"),
            dns_admin_url=env_str("DNS_ADMIN_URL"),
            # dns-admin refuses every change without it (compose passes it from .env, which `make up` writes).
            dns_admin_token=env_str("DNSRACE_ADMIN_TOKEN"),
            keep_generations=env_int("CLEANUP_KEEP_GENERATIONS", 5, minimum=1, maximum=10_000),
            poll_interval_ms=env_int("POLL_INTERVAL_MS", 500, minimum=10, maximum=60_000),
            lock_ttl_ms=env_int("LOCK_TTL_MS", 5_000, minimum=100, maximum=600_000),
            lock_attempts_max=env_int("LOCK_ATTEMPTS_MAX", 30, minimum=1, maximum=10_000),
            lock_backoff_base_ms=env_int("LOCK_BACKOFF_BASE_MS", 100, minimum=1, maximum=60_000),
            lock_backoff_cap_ms=env_int("LOCK_BACKOFF_CAP_MS", 3_000, minimum=1, maximum=600_000),
            redis_timeout_ms=env_int("REDIS_TIMEOUT_MS", 60_000, minimum=100, maximum=600_000),
            dns_admin_timeout_ms=env_int("DNS_ADMIN_TIMEOUT_MS", 120_000, minimum=100, maximum=600_000),
            plan_ttl_s=env_int("PLAN_RECORD_TTL_S", 1, minimum=0, maximum=86_400),
            retry_count_max=env_int("RETRY_COUNT_MAX", 10, minimum=1, maximum=1_000),
            # Safe mode's self-check: CoreDNS's authoritative listener, through this enactor's own proxy.
            self_check_host=env_str("SELF_CHECK_HOST", "toxiproxy", pattern=r"[a-z0-9.-]{1,253}"),
            self_check_port=env_int("SELF_CHECK_PORT", 5354, minimum=1, maximum=65_535),
            self_check_timeout_ms=env_int("SELF_CHECK_TIMEOUT_MS", 2_000, minimum=100, maximum=60_000),
        )
