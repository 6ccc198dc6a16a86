"""The online image path (upstream images), built here where no registry is reachable.

A user with internet builds from debian:bookworm-slim, coredns/coredns, ghcr.io/shopify/toxiproxy and
redis. This machine cannot pull them, so the test stands local images in under those names (a Debian
bookworm base with apt, FROM-scratch images holding the same binaries at the upstream paths) and runs
infra/images/build-images.sh, which must take the online path because they are present, pull nothing,
and produce working images. A mistake in the online Dockerfiles or in that branch of the script fails
here. Stand-in tags are made only where no image of that name exists, and only those are removed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .stack import TOP

pytestmark = pytest.mark.integration

NAMESPACE = f"dnsrace-online-test-{os.getpid()}"


def versions() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (TOP / "infra/versions.env").read_text().splitlines()
             if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def docker(*args: str, timeout_s: float = 120, check: bool = True, stdin: bytes | None = None) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, timeout=timeout_s, input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode(errors="replace")


def have_image(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True, timeout=30).returncode == 0


def scratch_image(tag: str, files: dict[str, Path]) -> None:
    """A FROM-scratch image with each file at /NAME and the first as its entrypoint, as the upstream
    CoreDNS and Toxiproxy images are."""
    with tempfile.TemporaryDirectory() as context:
        for name, source in files.items():
            (Path(context) / name).write_bytes(source.read_bytes())
            (Path(context) / name).chmod(0o755)
        entrypoint = next(iter(files))
        (Path(context) / "Dockerfile").write_text(f'FROM scratch\nCOPY . /\nENTRYPOINT ["/{entrypoint}"]\n')
        docker("build", "-q", "-t", tag, context, timeout_s=300)


def binary_from(image: str, path: str, into: Path) -> Path:
    container = docker("create", "--entrypoint", "/bin/true", image).strip()
    try:
        docker("cp", f"{container}:{path}", str(into / Path(path).name))
    finally:
        docker("rm", container)
    return into / Path(path).name


@pytest.fixture
def upstream_stand_ins() -> Iterator[list[str]]:
    """The four upstream names present locally: real images where the machine has them, else stand-ins."""
    v = versions()
    made: list[str] = []
    base = next(line.split()[0] for line in docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.CreatedAt}}",
                                                   "dnsrace/base").splitlines())
    with tempfile.TemporaryDirectory() as work:
        binaries = Path(work)
        stand_ins = {
            v["DEBIAN_IMAGE"]: lambda tag: docker("tag", base, tag),
            v["REDIS_UPSTREAM_IMAGE"]: lambda tag: docker("tag", "dnsrace/redis:" + v["REDIS_VERSION"], tag),
            v["COREDNS_UPSTREAM_IMAGE"]: lambda tag: scratch_image(tag, {
                "coredns": binary_from(f"dnsrace/coredns:{v['COREDNS_VERSION']}", "/usr/local/bin/coredns", binaries)}),
            v["TOXIPROXY_UPSTREAM_IMAGE"]: lambda tag: scratch_image(tag, {
                name: binary_from(f"dnsrace/toxiproxy:{v['TOXIPROXY_VERSION']}", f"/usr/local/bin/{name}", binaries)
                for name in ("toxiproxy", "toxiproxy-cli")}),
        }
        try:
            for tag, make in stand_ins.items():
                if not have_image(tag):
                    make(tag)
                    made.append(tag)
            yield made
        finally:
            for tag in made:
                docker("rmi", tag, check=False)


DYNAMODB_ASK = """
import json, time, urllib.request
def call(target, body):
    request = urllib.request.Request("http://127.0.0.1:8000/", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810." + target,
        "Authorization": "AWS4-HMAC-SHA256 Credential=lab/20250101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    return json.loads(urllib.request.urlopen(request, timeout=5).read() or b"{}")
for _ in range(50):
    try:
        urllib.request.urlopen("http://127.0.0.1:8000/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
call("CreateTable", {"TableName": "t", "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
                     "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"})
call("PutItem", {"TableName": "t", "Item": {"k": {"S": "droplet-1"}, "v": {"N": "1"}}})
print(json.dumps(call("GetItem", {"TableName": "t", "Key": {"k": {"S": "droplet-1"}}})))
"""


def assert_dynamodb_serves(image: str) -> None:
    """The online path's storage node answers DynamoDB's JSON API: a table made, an item put and read."""
    container = docker("run", "-d", image).strip()
    try:
        out = docker("exec", container, "python3", "-c", DYNAMODB_ASK, timeout_s=60)
        assert '"droplet-1"' in out and '"1"' in out, out
    finally:
        docker("rm", "-f", container, check=False)


def test_online_path_builds_from_present_upstream_images_without_pulling(upstream_stand_ins: list[str]) -> None:
    v = versions()
    started = int(time.time())
    outputs = {
        "coredns": f"{NAMESPACE}/coredns:{v['COREDNS_VERSION']}",
        "toxiproxy": f"{NAMESPACE}/toxiproxy:{v['TOXIPROXY_VERSION']}",
        "redis": f"{NAMESPACE}/redis:{v['REDIS_VERSION']}",
        "app": f"{NAMESPACE}/app:local",
        "dynamodb": f"{NAMESPACE}/dynamodb:minidyn-{v['MINIDYN_VERSION']}",
    }
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, DNSRACE_IMAGE_NAMESPACE=NAMESPACE, DNSRACE_CACHE_DIR=cache)
        env.pop("IMAGE_PATH", None)  # the script must choose online by itself: the images are present
        try:
            build = subprocess.run(["bash", str(TOP / "infra/images/build-images.sh")], env=env, capture_output=True,
                                   text=True, timeout=900)
            assert build.returncode == 0, build.stderr
            assert "path=online (the upstream images are present locally; nothing is pulled)" in build.stderr, build.stderr
            pulls = docker("events", "--since", str(started), "--until", str(int(time.time()) + 1),
                           "--filter", "type=image", "--filter", "event=pull", "--format", "{{.ID}}")
            assert pulls.strip() == "", f"the online path pulled: {pulls}"

            for name in outputs.values():
                assert have_image(name), f"{name} was not built"
            assert docker("image", "inspect", "-f", '{{index .Config.Labels "dnsrace.path"}}',
                          outputs["coredns"]).strip() == "online"
            version = docker("run", "--rm", outputs["coredns"], "-version")
            assert f"CoreDNS-{v['COREDNS_VERSION']}" in version, version
            assert v["TOXIPROXY_VERSION"] in docker("run", "--rm", outputs["toxiproxy"], "-version")
            assert v["TOXIPROXY_VERSION"] in docker("run", "--rm", "--entrypoint", "/usr/local/bin/toxiproxy-cli",
                                                    outputs["toxiproxy"], "--version")
            assert "Redis server" in docker("run", "--rm", outputs["redis"], "redis-server", "--version")
            imports = docker("run", "--rm", outputs["app"], "python3", "-c",
                             "import aiohttp, boto3, redis, dns.message, dnsrace.plans, dnsrace_ec2.lease_book; "
                             "print('imports ok')")
            assert "imports ok" in imports
            assert_dynamodb_serves(outputs["dynamodb"])
        finally:
            images = docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).split()
            mine = [image for image in images if image.startswith(NAMESPACE + "/")]
            if mine:
                docker("rmi", *mine, check=False)
