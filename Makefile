# minik8s - run `make help` for the targets.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
# Every daemon and the CLI; each directory holds its main package.
COMPONENTS := $(wildcard apiserver scheduler controller-manager kubelet kube-proxy minictl)

.DEFAULT_GOAL := help

help: ## show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

deps: ## install build and test dependencies (apt packages, protoc plugins, pinned etcd)
	./hack/install-deps.sh

build: deps ## build every binary into bin/ (with etcd and etcdctl)
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(addprefix ./,$(COMPONENTS))

generate: ## regenerate the protobuf Go code and the OpenAPI descriptions (committed)
	./hack/update-codegen.sh

# The generated files: protobuf Go code and the protos' comments for the
# OpenAPI documents.
GENERATED := '*.pb.go' 'apiserver/openapi/zz_generated.*'

verify-generate: generate ## fail if the generated code is not current
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then git status --short -- $(GENERATED); echo "generated code is stale: run make generate and commit"; exit 1; fi

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Packages whose tests need root: they share containerd, network namespaces
# and iptables, so they run one package at a time after the others.
ROOT_TEST_PKGS := ./kube-proxy/app ./kube-proxy/nftables ./kubelet/network ./kubelet/runtime ./test/integration

test: build ## run unit and integration tests (integration uses the real etcd in bin/)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -x -F $(addprefix -e minik8s/,$(patsubst ./%,%,$(ROOT_TEST_PKGS))))
	MINIK8S_NO_SKIP=1 $(GO) test -race -count=1 -p 1 -timeout 40m $(ROOT_TEST_PKGS)

# FUZZTIME is how long `make fuzz` explores each fuzz target.
FUZZTIME ?= 5s
fuzz: ## run every Go fuzz target for FUZZTIME each (default 5s; hack/fuzz.sh)
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./hack/fuzz.sh

bench: build ## run the benchmarks and write docs/benchmarks.md
	./hack/bench-all.sh

clean: ## remove build output
	rm -rf $(BIN) _output

.PHONY: help deps build generate verify-generate lint test fuzz bench clean

# Debian packages (docs/operations.md): hack/package drives nfpm's library
# from a module of its own, so nfpm's dependencies stay out of go.mod.
# VERSION defaults to one derived from git describe (hack/package/version.sh).
# Expanded once, so both builds of test-packages see the same commit.
ifndef VERSION
VERSION := $(shell ./hack/package/version.sh)
endif
PACKAGE_DIR ?= $(CURDIR)/_output/packages
PACKAGE_COMPRESSION ?= gzip
package: build ## build the Debian packages minik8s-control-plane, -node and -client into _output/packages (VERSION=...)
	@rm -f $(PACKAGE_DIR)/minik8s-*.deb
	cd hack/package && $(GO) run . --root $(CURDIR) --version $(VERSION) --out $(PACKAGE_DIR) --compression $(PACKAGE_COMPRESSION)

# test-packages installs, upgrades, removes and purges the packages in a
# machine booted with systemd-nspawn (hack/machine/machine.sh; root; the
# base image is built once with debootstrap and cached in /var/cache/minik8s).
# The upgrade installs a second build of the same tree with a higher
# version (uncompressed, to save the time of compressing it again).
test-packages: package ## install, upgrade, remove and purge the packages in a booted nspawn machine (root)
	cd hack/package && $(GO) test -count=1 .
	@rm -f $(PACKAGE_DIR)-upgrade/minik8s-*.deb
	cd hack/package && $(GO) run . --root $(CURDIR) --version $(VERSION)+upgrade1 --out $(PACKAGE_DIR)-upgrade --compression none
	MK8S_PACKAGES=$(PACKAGE_DIR) MK8S_PACKAGES_UPGRADE=$(PACKAGE_DIR)-upgrade MINIK8S_NO_SKIP=1 \
		$(GO) test -count=1 -v -timeout 20m ./test/machine/...

.PHONY: package test-packages

# The local cluster (hack/local-up-cluster.sh): the script installs the
# dependencies and builds itself, so a fresh clone needs only `make up`.
# CONTROL_PLANE=static-pods runs the control plane as static pods of node 1
# (the master) and kube-proxy as a DaemonSet; the default is processes.
CONTROL_PLANE ?= processes
export CONTROL_PLANE
# KUBE_PROXY_MODE=nftables (or userspace) sets every kube-proxy's mode.
KUBE_PROXY_MODE ?= iptables
export KUBE_PROXY_MODE
# MODE=machines runs the cluster on systemd-nspawn machines, every daemon a
# systemd unit of the Debian packages (hack/machine/cluster.sh);
# CONTROL_PLANES=3 there boots three control-plane machines.
MODE ?= processes
export MODE

up: ## start a local multi-node cluster (NODES=3): etcd x3, apiserver x2, scheduler x2, controller-manager x2, node netns (CONTROL_PLANE=static-pods: as static pods on node 1)
	./hack/local-up-cluster.sh up

down: ## stop what `make up` started and remove everything it made
	./hack/local-up-cluster.sh down

# e2e brings a cluster up, runs test/e2e against it and brings it down,
# also when up or a test fails or make is interrupted; after a failure the
# daemons' logs, and the containers' (static pods included) under
# nodeI/kubelet/pods/UID/logs, are kept in _output/e2e-logs (down removes
# _output/local).
# MINIK8S_NO_SKIP makes a missing cluster a failure instead of a skip.
E2E_ENV := MK8S_E2E_CLUSTER=$(CURDIR)/_output/local/cluster.env MINIK8S_NO_SKIP=1
E2E_DOWN := rc=$$?; if [ $$rc -ne 0 ] && [ -d _output/local/logs ]; then \
	rm -rf _output/e2e-logs; cp -r _output/local/logs _output/e2e-logs; \
	(cd _output/local && find . -path "./node*/kubelet/pods/*/logs/*" -name "*.log" -exec cp --parents {} ../e2e-logs/ \;); \
	echo "e2e: daemon and container logs kept in _output/e2e-logs"; fi; \
	./hack/local-up-cluster.sh down; exit $$rc
# E2E_RUN narrows the tests (go test -run), e.g. make e2e E2E_RUN=TestRunNginx.
E2E_RUN ?=
# E2E_TESTFLAGS: more go test flags, e.g. -v.
E2E_TESTFLAGS ?=
e2e: ## bring a local cluster up, run the end-to-end tests against it, bring it down
	@trap '$(E2E_DOWN)' EXIT; trap 'exit 130' INT TERM; \
	./hack/local-up-cluster.sh up && \
	$(E2E_ENV) $(GO) test -count=1 -p 1 -timeout 30m $(E2E_TESTFLAGS) $(if $(E2E_RUN),-run '$(E2E_RUN)') ./test/e2e/...

# e2e-static: the same tests against a control plane of static pods; those
# that stop and start control-plane daemons (HA, failover) skip themselves
# there, and TestStaticControlPlanePods checks the kube-system listing.
e2e-static: ## make e2e with CONTROL_PLANE=static-pods (control plane as static pods, kube-proxy DaemonSet)
	$(MAKE) e2e CONTROL_PLANE=static-pods

# e2e-nftables: the same tests with every kube-proxy in nftables mode
# (TestNFTablesProxyMode runs only then).
e2e-nftables: ## make e2e with KUBE_PROXY_MODE=nftables
	$(MAKE) e2e KUBE_PROXY_MODE=nftables

# fault brings a cluster up, runs the fault suite (test/fault: each case
# kills or stops a process by the PID the harness recorded while a client
# load writes through the apiservers, then counts the acknowledged writes
# in etcd) and brings it down as e2e does. A whole run writes its figures
# into docs/reliability.md; FAULT_RUN narrows the cases (go test -run) and
# then leaves the document alone. FAULT_ETCD_QUOTA is every etcd member's
# --quota-backend-bytes there, small so the disk-full case fills it fast.
FAULT_RUN ?=
FAULT_ETCD_QUOTA ?= 134217728
fault: ## bring a local cluster up, run the fault suite (test/fault), write docs/reliability.md, bring it down
	@trap '$(E2E_DOWN)' EXIT; trap 'exit 130' INT TERM; \
	MK8S_ETCD_QUOTA=$(FAULT_ETCD_QUOTA) ./hack/local-up-cluster.sh up && \
	$(E2E_ENV) $(if $(FAULT_RUN),,FAULT_REPORT=$(CURDIR)/docs/reliability.md) $(GO) test -count=1 -p 1 -v -timeout 15m \
		$(if $(FAULT_RUN),-run '$(FAULT_RUN)') ./test/fault/...

# e2e-machines: make up MODE=machines with 1 control-plane and 2 worker
# machines, the walkthrough scenarios that apply to it (the others skip
# themselves there), then the machine operations of test/e2e
# m_machines_test.go (systemctl restart under load, reboots, journald)
# and m_upgrade_test.go (a rolling upgrade to a newer package build);
# prints how long it took.
E2E_MACHINES_RUN ?= TestComponentStatuses|TestRunNginx|TestEtcdctlReadsPod|TestDaemonSetOnePodPerNode|TestServiceFromEveryNode|TestPodToPodKeepsSourceIP|TestEgressFromNodeIP|TestClusterDNS|TestKubectlLogsExec|TestMachine
e2e-machines: ## make e2e on nspawn machines running the packages' units (MODE=machines, 1 control plane + 2 workers), then restarts and reboots
	@t0=$$(date +%s); $(MAKE) --no-print-directory e2e MODE=machines NODES=2 E2E_TESTFLAGS=-v E2E_RUN='$(E2E_MACHINES_RUN)'; rc=$$?; \
	echo "e2e-machines: exit $$rc in $$(( $$(date +%s) - t0 ))s"; exit $$rc

# e2e-machines-ha: the same with CONTROL_PLANES=3 (mk8s-cp1..3: a 3-member
# etcd cluster, an apiserver on each, the scheduler and controller manager
# elected through their Leases), narrowed (to fit CI's time) to what the
# extra control planes change: the statuses of three etcd members, the
# kubelets and kube-proxies on the apiservers' list, and the control-plane
# machines holding the Leases powered off (TestMachineControlPlaneRebootHA).
# E2E_MACHINES_HA_RUN='$(E2E_MACHINES_RUN)' runs everything (about 2 more
# minutes, most of it the rolling upgrade of five machines).
E2E_MACHINES_HA_RUN ?= TestComponentStatuses|TestServiceFromEveryNode|TestMachineControlPlaneRebootHA
e2e-machines-ha: ## make e2e-machines with 3 control-plane machines (CONTROL_PLANES=3), a control-plane machine powered off
	@t0=$$(date +%s); $(MAKE) --no-print-directory e2e MODE=machines CONTROL_PLANES=3 NODES=2 E2E_TESTFLAGS=-v E2E_RUN='$(E2E_MACHINES_HA_RUN)'; rc=$$?; \
	echo "e2e-machines-ha: exit $$rc in $$(( $$(date +%s) - t0 ))s"; exit $$rc

.PHONY: up down e2e e2e-static e2e-nftables e2e-machines e2e-machines-ha fault
