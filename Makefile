# dnsrace — see README.md. Every target works from a fresh clone: `make up` installs and builds what
# is missing (infra/host-deps.sh, infra/images/build-images.sh) and says which image path it took.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PROJECT ?= dnsrace
ENDPOINT := dynamodb.us-east-1.lab.test
# The published ports; a second stack (the test suite's) sets DNSRACE_* for compose, and these follow.
DNS_PORT ?= $(or $(DNSRACE_DNS_PORT),1053)
DNS_AUTH_PORT ?= $(or $(DNSRACE_DNS_AUTH_PORT),1054)
PY := /usr/bin/python3
# Compose v2 (`docker compose`) where present, else v1 (`docker-compose`); both read the same file.
COMPOSE_BIN := $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
COMPOSE := $(COMPOSE_BIN) -p $(PROJECT)
N ?=

.PHONY: help deps images up down ps logs timeline dig backend-fail backend-heal test test-unit test-integration bench bench-cold \
        reproduce-outage reset repair status reproduce-rate dwfm-sweep chaos chaos-replay chaos-judge model model-check-trace lint
LAB := PYTHONPATH=services/common:services/lab:services/dns-admin:model PROJECT=$(PROJECT) $(PY) -m
# The enactors' mode: `make up MODE=safe` (or ENACTOR_MODE=safe in the environment); compose reads it.
MODE ?= $(or $(ENACTOR_MODE),legacy)
export ENACTOR_MODE := $(MODE)
# One switch for the cascade's downstream designs: CASCADE_MODE=safe sets DWFM_MODE, NLB_MODE and NETMGR_MODE
# (each can still be given on its own).
ifdef CASCADE_MODE
DWFM_MODE ?= $(CASCADE_MODE)
NLB_MODE ?= $(CASCADE_MODE)
NETMGR_MODE ?= $(CASCADE_MODE)
endif
# The lease manager's design (the cascade, issue 23): `make up DWFM_MODE=safe`; compose reads it.
DWFM_MODE ?= legacy
export DWFM_MODE
# The load balancer's health-check design and Network Manager's admission (the cascade's act 2, issue 24):
# `make up NLB_MODE=safe`; Network Manager follows NLB_MODE unless NETMGR_MODE is given.
NLB_MODE ?= legacy
NETMGR_MODE ?= $(NLB_MODE)
export NLB_MODE NETMGR_MODE
SCENARIO ?= race
# The lab's state in one line (dnsrace_lab.stack.state); `--require running` stops a target that needs the
# stack at once, saying which state the lab is in and the command that gets out of it.
STATE := $(LAB) dnsrace_lab.stack.state --project $(PROJECT)
REQUIRE_RUNNING = @$(STATE) --require running --target "make $@"

# dns-admin's bearer token: every change to the zone (the enactors' batches, the lab's, the console's
# repair) must carry it. Written once, when missing, into .env (git ignores it), which compose reads
# beside docker-compose.yml and the lab's tools read too; a DNSRACE_ADMIN_TOKEN in the environment wins.
.env:
	@umask 077; { echo "# dns-admin's bearer token, written by make; docker-compose.yml and the lab's tools read it"; \
	  echo "DNSRACE_ADMIN_TOKEN=$$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"; } > $@.tmp && mv $@.tmp $@
	@echo "make: wrote .env: a new random DNSRACE_ADMIN_TOKEN (dns-admin's bearer token; make status, make repair and the console use it)"

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

deps: ## install missing host tools (Debian packages: debootstrap, dig, dnsperf, redis-tools, python3 libraries)
	@bash infra/host-deps.sh all

images: ## build every image (online: from upstream images; offline: debootstrap + Go modules)
	@bash infra/images/build-images.sh

up: images | .env ## start the stack (MODE=legacy|safe) and wait until it serves the endpoint
	@# First the lab's state: faults an interrupted run left are healed; a stack in the reproduced
	@# outage is reported (exit 3) rather than waited on, since no waiting ends it.
	@start=$$(date +%s%3N); status=0; \
	line=$$($(STATE) --heal) || status=$$?; \
	if [ $$status -eq 15 ]; then \
	  echo "$$line"; $(MAKE) --no-print-directory dig; \
	  echo "up: the stack is up and in the reproduced outage; make repair fixes it, make reset starts over, make down removes it" >&2; \
	  exit 3; \
	elif [ $$status -eq 16 ]; then \
	  echo "$$line"; echo "up: the stack is up but its endpoint answers empty, and waiting will not change that" >&2; \
	  exit 4; \
	fi; \
	grep '^lab: healed' <<<"$$line" || true; \
	$(COMPOSE) up -d --remove-orphans 2>&1 | grep -v -e '^Creating' -e '^Starting' -e 'is up-to-date' -e '^Recreating' || true; \
	status=0; bash infra/wait-ready.sh $(PROJECT) $(DNS_PORT) $(DNS_AUTH_PORT) 180 || status=$$?; \
	if [ $$status -eq 4 ]; then exit 3; elif [ $$status -ne 0 ]; then exit 1; fi; \
	elapsed=$$(( $$(date +%s%3N) - start )); \
	printf 'up: serving in %d.%01d s (compose project %s)\n' $$((elapsed / 1000)) $$((elapsed % 1000 / 100)) "$(PROJECT)"; \
	$(MAKE) --no-print-directory dig

down: | .env ## stop the stack; containers, networks and volumes are removed
	@# Paused containers first: a paused container cannot be stopped gracefully.
	@ids=$$(docker ps -q --filter label=com.docker.compose.project=$(PROJECT) --filter status=paused); \
	[ -z "$$ids" ] || docker unpause $$ids >/dev/null
	@$(COMPOSE) down -v --remove-orphans 2>&1 | grep -v -e '^Stopping' -e '^Removing' || true
	@echo "down: project $(PROJECT) removed (containers, networks, volumes)"

ps: ## containers, health and restart counts, and the lab's state in one line
	@ids=$$(docker ps -aq --filter label=com.docker.compose.project=$(PROJECT)); \
	[ -z "$$ids" ] || docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}}{{if .State.Health}}/{{.State.Health.Status}}{{end}} restarts={{.RestartCount}}' $$ids | sort | awk '{printf "  %-10s %-18s %s\n", $$1, $$2, $$3}'
	@$(STATE) || true

logs: | .env ## follow every service's log (JSON events)
	$(REQUIRE_RUNNING)
	@$(COMPOSE) logs -f --tail=50

timeline: | .env ## the last events as sentences (LAST=60)
	$(REQUIRE_RUNNING)
	@$(COMPOSE) exec -T dns-admin python3 -m dnsrace.timeline --last $(or $(LAST),60)

dig: ## ask the live resolver (127.0.0.1:1053) for the endpoint
	$(REQUIRE_RUNNING)
	@dig @127.0.0.1 -p $(DNS_PORT) $(ENDPOINT) A +time=2 +tries=1 +noall +comments +answer | grep -v -e '^;; Got answer' -e '^$$' -e OPT -e '^; EDNS'

backend-fail: | .env ## turn backend N unhealthy (make backend-fail N=2)
	@case "$(N)" in 1|2|3) ;; *) echo "usage: make backend-fail N=1|2|3" >&2; exit 2;; esac
	$(REQUIRE_RUNNING)
	@$(COMPOSE) exec -T backend-$(N) python3 -m dnsrace_backend.control fail

backend-heal: | .env ## turn backend N healthy again (make backend-heal N=2)
	@case "$(N)" in 1|2|3) ;; *) echo "usage: make backend-heal N=1|2|3" >&2; exit 2;; esac
	$(REQUIRE_RUNNING)
	@$(COMPOSE) exec -T backend-$(N) python3 -m dnsrace_backend.control heal

reproduce-outage: deps ## reset the stack, then run a scenario (MODE=legacy|safe SCENARIO=race|pause|manual-delete|cascade|cascade-mitigate|cascade-full DWFM_MODE= NLB_MODE= NETMGR_MODE= or CASCADE_MODE=legacy|safe)
	@case "$(MODE)" in legacy|safe) ;; *) echo "reproduce-outage: MODE=$(MODE): must be legacy or safe" >&2; exit 2;; esac
	@case "$(SCENARIO)" in race|pause|manual-delete|cascade|cascade-mitigate|cascade-full) ;; *) echo "reproduce-outage: SCENARIO=$(SCENARIO): must be race, pause, manual-delete, cascade, cascade-mitigate or cascade-full" >&2; exit 2;; esac
	@for pair in DWFM_MODE=$(DWFM_MODE) NLB_MODE=$(NLB_MODE) NETMGR_MODE=$(NETMGR_MODE); do \
	  case "$${pair#*=}" in legacy|safe) ;; *) echo "reproduce-outage: $$pair: must be legacy or safe" >&2; exit 2;; esac; done
	@$(MAKE) --no-print-directory reset
	@$(LAB) dnsrace_lab.outage --scenario $(SCENARIO) --mode $(MODE) --dwfm-mode $(DWFM_MODE) --nlb-mode $(NLB_MODE) \
	  --netmgr-mode $(NETMGR_MODE) $(if $(OBSERVE_S),--observe-s $(OBSERVE_S))

reset: deps images | .env ## the lab back to its first second (MODE=…): state cleared in place, containers kept unless changed
	@# compose first: it recreates only what changed (the image, the compose file, MODE) and starts what
	@# is missing; on an unchanged stack it is a no-op (1 s). Then the state is cleared in place.
	@$(COMPOSE) up -d --remove-orphans 2>&1 | grep -v -e 'is up-to-date' -e '^Creating' -e '^Starting' -e '^Recreating' || true
	@status=0; $(LAB) dnsrace_lab.stack.reset --mode $(MODE) || status=$$?; \
	if [ $$status -eq 3 ]; then \
	  echo "reset: down -v, then up in mode $(MODE)"; \
	  $(COMPOSE) down -v --remove-orphans >/dev/null 2>&1; \
	  ENACTOR_MODE=$(MODE) $(MAKE) --no-print-directory up >/dev/null || exit 1; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

dwfm-sweep: deps images | .env ## the lease manager's threshold, live: SCENARIO=cascade (legacy) for each DROPLETS in NS, recovery time against N/(μτ)
	@bash bench/dwfm_sweep.sh $(or $(NS),40 70 100 130 200 300)

reproduce-rate: deps images | .env ## run reproduce-outage RUNS times (default 10) and report the rate (MODE, SCENARIO; cascade-full: CASCADE_MODE or DWFM_MODE, NLB_MODE, NETMGR_MODE)
	@bash bench/reproduce_rate.sh $(or $(RUNS),10) $(SCENARIO) $(MODE)

repair: deps | .env ## the operator's fix through the console's API (POST /api/repair): endpoint -> newest existing plan, rollback cleared; time until clients recover
	$(REQUIRE_RUNNING)
	@status=0; line=$$($(STATE)) || status=$$?; \
	case $$status in \
	  0) echo "$$line"; echo "repair: nothing to repair: the endpoint answers";; \
	  14) echo "$$line" >&2; echo "repair: faults are active; make up heals them first" >&2; exit 1;; \
	  *) $(LAB) dnsrace_lab.stack.repair;; \
	esac

status: ## the console's status in a terminal: what the resolver answers, the one root alert, the enactors (GET /api/status)
	$(REQUIRE_RUNNING)
	@$(LAB) dnsrace_lab.stack.status

test: deps images ## make lint, make model, unit tests, then integration tests against a fresh stack of their own
	@$(MAKE) --no-print-directory lint
	@$(MODEL) dnsrace_model.searches
	$(PY) -m pytest tests/unit -q
	$(PY) -m pytest tests/integration -q

lint: deps ## mypy (strict for services/common and services/enactor; pyproject.toml) and flake8 (.flake8)
	@mypy && echo "lint: mypy passed"
	@flake8 services model bench tests infra && echo "lint: flake8 passed"

test-unit: deps ## unit tests only (no Docker)
	$(PY) -m pytest tests/unit -q

test-integration: deps images ## integration tests only
	$(PY) -m pytest tests/integration -q

bench-cold: ## DESTRUCTIVE: default stack down, dnsrace images removed; time from git clone to first answer (PURGE_HOST_PACKAGES=1)
	@bash bench/cold_start.sh

bench: deps images | .env ## restart the stack (MODE=…), then idle CPU, plan propagation, resolver throughput (README numbers)
	$(PY) bench/bench.py --project $(PROJECT) --dns-port $(DNS_PORT) $(if $(PLANS),--plans $(PLANS))

# The chaos campaign's mode defaults to safe (MODE=… on the command line or in the environment wins);
# the enactors are recreated in it if they run another (dnsrace_lab.chaos does, through the reset).
CHAOS_MODE = $(if $(filter command line environment,$(origin MODE)),$(MODE),safe)

chaos: deps | .env ## a randomized, seeded fault campaign (MODE=safe|legacy RUNS=5 SEED=… CASCADE=1: the cascade too, in MODE: a storage cut, a propagation storm, (7)-(9)), judged from one history per run (store/chaos/)
	@case "$(CHAOS_MODE)" in legacy|safe) ;; *) echo "chaos: MODE=$(CHAOS_MODE): must be legacy or safe" >&2; exit 2;; esac
	@case "$(or $(RUNS),5)" in ''|*[!0-9]*) echo "chaos: RUNS=$(RUNS): must be a number" >&2; exit 2;; esac
	@case "$(CASCADE)" in ''|0|1) ;; *) echo "chaos: CASCADE=$(CASCADE): must be 1 (the cascade too: the lease manager, Network Manager, the load balancer) or 0" >&2; exit 2;; esac
	$(REQUIRE_RUNNING)
	@$(LAB) dnsrace_lab.chaos --mode $(CHAOS_MODE) --runs $(or $(RUNS),5) $(if $(SEED),--seed $(SEED)) $(if $(filter 1,$(CASCADE)),--cascade)

chaos-replay: deps | .env ## rerun the schedule of one chaos run (RUN=store/chaos/<dir>), in its mode
	@[ -n "$(RUN)" ] && [ -f "$(RUN)/history.jsonl" ] || { echo "usage: make chaos-replay RUN=store/chaos/<dir> (a folder with a history.jsonl)" >&2; exit 2; }
	$(REQUIRE_RUNNING)
	@$(LAB) dnsrace_lab.chaos --replay $(RUN)

chaos-judge: deps ## judge recorded chaos runs again from their histories alone (RUN="store/chaos/<dir> ..."; TABLE=<wall s>: and tabulate them)
	@[ -n "$(RUN)" ] || { echo "usage: make chaos-judge RUN=\"store/chaos/<dir> ...\" [TABLE=<seconds the runs took in all>]" >&2; exit 2; }
	@$(LAB) dnsrace_lab.harness.report $(if $(TABLE),--table $(TABLE)) $(RUN)

MODEL := PYTHONPATH=services/common:services/dns-admin:model $(PY) -m
model: deps ## the protocol model-checked with Spin (model/): legacy's counterexample as a timeline, safe exhaustively
	@$(MODEL) dnsrace_model.searches

model-check-trace: deps ## a recorded run's events against the same model (HISTORY=…/history.jsonl, default: the newest run)
	@history="$(or $(HISTORY),$(lastword $(sort $(wildcard store/reproduce-outage/2*/history.jsonl))))"; \
	[ -n "$$history" ] || { echo "usage: make model-check-trace HISTORY=store/reproduce-outage/<run>/history.jsonl (make reproduce-outage records one)" >&2; exit 2; }; \
	$(MODEL) dnsrace_model.trace "$$history"
