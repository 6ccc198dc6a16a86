# dnsrace — see README.md. Every target works from a fresh clone: `make up` installs and builds what
# is missing (infra/host-deps.sh, infra/images/build-images.sh) and says which image path it took.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PROJECT ?= dnsrace
ENDPOINT := dynamodb.us-east-1.lab.test
DNS_PORT ?= 1053
DNS_AUTH_PORT ?= 1054
PY := /usr/bin/python3
# Compose v2 (`docker compose`) where present, else v1 (`docker-compose`); both read the same file.
COMPOSE_BIN := $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
COMPOSE := $(COMPOSE_BIN) -p $(PROJECT)
N ?=

.PHONY: help deps images up down ps logs timeline dig backend-fail backend-heal test test-unit test-integration bench \
        reproduce-outage reset repair reproduce-rate
LAB := PYTHONPATH=services/common:services/lab PROJECT=$(PROJECT) $(PY) -m
# The enactors' mode: `make up MODE=safe` (or ENACTOR_MODE=safe in the environment); compose reads it.
MODE ?= $(or $(ENACTOR_MODE),legacy)
export ENACTOR_MODE := $(MODE)
SCENARIO ?= race

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

deps: ## install missing host tools (Debian packages: debootstrap, dig, dnsperf, python3 libraries)
	@bash infra/host-deps.sh

images: ## build every image (online: from upstream images; offline: debootstrap + Go modules)
	@bash infra/images/build-images.sh

up: images ## start the stack (MODE=legacy|safe) and wait until it serves the endpoint
	@start=$$(date +%s%3N); \
	$(COMPOSE) up -d --remove-orphans 2>&1 | grep -v -e '^Creating' -e '^Starting' -e 'is up-to-date' || true; \
	bash infra/wait-ready.sh $(PROJECT) $(DNS_PORT) $(DNS_AUTH_PORT) 180 || exit 1; \
	elapsed=$$(( $$(date +%s%3N) - start )); \
	printf 'up: serving in %d.%01d s (compose project %s)\n' $$((elapsed / 1000)) $$((elapsed % 1000 / 100)) "$(PROJECT)"; \
	$(MAKE) --no-print-directory dig

down: ## stop the stack; containers, networks and volumes are removed
	$(COMPOSE) down -v --remove-orphans

ps: ## containers, health and restart counts
	@$(COMPOSE) ps
	@ids=$$(docker ps -aq --filter label=com.docker.compose.project=$(PROJECT)); \
	[ -z "$$ids" ] || docker inspect -f '{{.Name}} restarts={{.RestartCount}} status={{.State.Status}}' $$ids | sed 's#^/##'

logs: ## follow every service's log (JSON events)
	$(COMPOSE) logs -f --tail=50

timeline: ## the last events as sentences (LAST=60)
	@$(COMPOSE) exec -T dns-admin python3 -m dnsrace.timeline --last $(or $(LAST),60)

dig: ## ask the live resolver (127.0.0.1:1053) for the endpoint
	@dig @127.0.0.1 -p $(DNS_PORT) $(ENDPOINT) A +noall +comments +answer | grep -v -e '^;; Got answer' -e '^$$' -e OPT -e '^; EDNS'

backend-fail: ## turn backend N unhealthy (make backend-fail N=2)
	@test -n "$(N)" || { echo "usage: make backend-fail N=2" >&2; exit 2; }
	@$(COMPOSE) exec -T backend-$(N) python3 -m dnsrace_backend.control fail

backend-heal: ## turn backend N healthy again (make backend-heal N=2)
	@test -n "$(N)" || { echo "usage: make backend-heal N=2" >&2; exit 2; }
	@$(COMPOSE) exec -T backend-$(N) python3 -m dnsrace_backend.control heal

reproduce-outage: deps ## reset the stack, then run a scenario (MODE=legacy|safe SCENARIO=race|pause|manual-delete)
	@case "$(MODE)" in legacy|safe) ;; *) echo "reproduce-outage: MODE=$(MODE): must be legacy or safe" >&2; exit 2;; esac
	@case "$(SCENARIO)" in race|pause|manual-delete) ;; *) echo "reproduce-outage: SCENARIO=$(SCENARIO): must be race, pause or manual-delete" >&2; exit 2;; esac
	@$(MAKE) --no-print-directory reset
	@$(LAB) dnsrace_lab.outage --scenario $(SCENARIO) --mode $(MODE)

reset: deps images ## the lab back to its first second (MODE=…): state cleared in place, containers kept unless changed
	@# compose first: it recreates only what changed (the image, the compose file, MODE) and starts what
	@# is missing; on an unchanged stack it is a no-op (1 s). Then the state is cleared in place.
	@$(COMPOSE) up -d --remove-orphans 2>&1 | grep -v -e 'is up-to-date' -e '^Creating' -e '^Starting' -e '^Recreating' || true
	@status=0; $(LAB) dnsrace_lab.reset --mode $(MODE) || status=$$?; \
	if [ $$status -eq 3 ]; then \
	  echo "reset: down -v, then up in mode $(MODE)"; \
	  $(COMPOSE) down -v --remove-orphans >/dev/null 2>&1; \
	  ENACTOR_MODE=$(MODE) $(MAKE) --no-print-directory up >/dev/null || exit 1; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

reproduce-rate: deps images ## run reproduce-outage RUNS times (default 10) and report the rate (MODE, SCENARIO)
	@bash bench/reproduce_rate.sh $(or $(RUNS),10) $(SCENARIO) $(MODE)

repair: deps ## the operator's fix: endpoint -> newest existing plan, rollback cleared; time until clients recover
	@$(LAB) dnsrace_lab.repair

test: deps images ## unit tests, then integration tests against a fresh stack of their own
	$(PY) -m pytest tests/unit -q
	$(PY) -m pytest tests/integration -q

test-unit: deps ## unit tests only (no Docker)
	$(PY) -m pytest tests/unit -q

test-integration: deps images ## integration tests only
	$(PY) -m pytest tests/integration -q

bench: deps images ## restart the stack (MODE=…), then idle CPU, plan propagation, resolver throughput (README numbers)
	$(PY) bench/bench.py --project $(PROJECT) --dns-port $(DNS_PORT) $(if $(PLANS),--plans $(PLANS))
