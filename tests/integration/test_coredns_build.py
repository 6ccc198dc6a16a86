"""The CoreDNS the stack runs: the Corefile loads in it, and every plugin the Corefile names works.

The offline path builds CoreDNS with only the Corefile's plugins (infra/coredns-build/main.go); a
plugin named in the Corefile but not imported there would stop CoreDNS at start ("unknown
directive"), and one imported but silently not doing its job would go unnoticed without these checks.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
import uuid

import pytest

from dnsrace_lab.stack.names import pinned_versions

from .stack import TOP, Stack, wait_for

pytestmark = pytest.mark.integration

COREDNS_IMAGE = f"dnsrace/coredns:{pinned_versions()['COREDNS_VERSION']}"
# Plugins the Corefile's plugins import without being named in it (the file plugin's transfer and
# metadata hooks); the custom build may hold these and nothing else beyond the Corefile's.
IMPLIED_PLUGINS = {"metadata", "transfer"}


def corefile_directives() -> set[str]:
    """The first word of every line directly inside a server block of infra/coredns/Corefile."""
    directives: set[str] = set()
    depth = 0
    for raw in (TOP / "infra/coredns/Corefile").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if depth == 1 and line != "}":
            directives.add(line.split()[0])
        depth += line.count("{") - line.count("}")
    assert depth == 0, "unbalanced braces in the Corefile"
    return directives


def image_label(label: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{label}"}}}}', COREDNS_IMAGE],
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()


def binary_plugins() -> set[str]:
    out = subprocess.run(["docker", "run", "--rm", "--entrypoint", "/usr/local/bin/coredns", COREDNS_IMAGE, "-plugins"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return {line.strip().removeprefix("dns.") for line in out.splitlines() if line.strip() and ":" not in line}


def metrics(stack: Stack) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.ports['metrics']}/metrics", timeout=5) as response:
        return response.read().decode()


def counter(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def http_status_inside_coredns(stack: Stack, port: int, path: str) -> str:
    probe = (f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 "
             "&& read -r status <&3 && echo \"$status\"")
    return stack.compose("exec", "-T", "coredns", "bash", "-c", probe, timeout_s=30).stdout.strip()


def test_the_corefile_names_only_plugins_the_binary_has() -> None:
    directives = corefile_directives()
    assert directives == {"cache", "file", "log", "errors", "prometheus", "health", "ready"}, directives
    plugins = binary_plugins()
    assert directives <= plugins, f"the Corefile names plugins the binary lacks: {directives - plugins}"
    path = image_label("dnsrace.path")
    assert path in ("online", "offline"), f"{COREDNS_IMAGE} has no dnsrace.path label: rebuild it (make images)"
    if path == "offline":
        # The custom build: the Corefile's plugins and what they pull in, nothing else (no kubernetes, ...).
        assert plugins == directives | IMPLIED_PLUGINS, plugins


def test_each_plugin_the_corefile_names_works(stack: Stack) -> None:
    # file: the authoritative view answers the endpoint from the zone file, authoritatively.
    answer = wait_for("an authoritative answer with addresses",
                      lambda: (a := stack.query(authoritative_view=True)).addresses and a, within_s=30)
    assert answer.authoritative and answer.rcode == "NOERROR"

    # cache: a second query for the same name on the resolver is a cache hit.
    before = counter(metrics(stack), "coredns_cache_hits_total", server="dns://:53")
    name = f"cache-probe-{uuid.uuid4().hex[:8]}.lab.test"
    stack.query(name)
    stack.query(name)
    after = counter(metrics(stack), "coredns_cache_hits_total", server="dns://:53")
    assert after >= before + 1, (before, after)

    # log: a denial on the resolver is logged (the Corefile logs the denial and error classes only).
    missing = f"missing-{uuid.uuid4().hex[:8]}.lab.test"
    assert stack.query(missing).rcode == "NXDOMAIN"
    wait_for(f"CoreDNS logs the NXDOMAIN for {missing}",
             lambda: missing in stack.compose("logs", "--no-color", "--tail=200", "coredns").stdout, within_s=15)

    # prometheus (answered above) and errors: each handler the Corefile names is enabled on its server.
    text = metrics(stack)
    enabled = set(re.findall(r'coredns_plugin_enabled\{name="([a-z_]+)",server="dns://:53"', text))
    assert {"cache", "errors", "file", "log", "prometheus"} <= enabled, enabled
    assert {"errors", "file", "prometheus"} <= set(
        re.findall(r'coredns_plugin_enabled\{name="([a-z_]+)",server="dns://:5354"', text))

    # health and ready: their HTTP endpoints answer inside the container (the healthcheck uses ready).
    assert " 200 " in http_status_inside_coredns(stack, 8080, "/health")
    assert " 200 " in http_status_inside_coredns(stack, 8181, "/ready")
