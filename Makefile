# airgap.kubernetes: the two commands are `make lab` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The controller's Python: 3.12 gets ansible-core 2.21; fall back to the default python3.
PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.12.*/bin/python) $(shell command -v python3))
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:/usr/local/go/bin:$(subst $(CURDIR)/$(VENV)/bin:,,$(PATH))
export AIRGAP_LAB_CACHE ?= /var/cache/airgap-lab
LAB_STATE := $(AIRGAP_LAB_CACHE)/state
# The lab's cluster file, written by the collection's own generator from the hosts the lab made.
LAB_CLUSTER := $(LAB_STATE)/lab.cluster.yml
# The key that signs the lab's bundle, made once (no passphrase: the lab's own); the lab's cluster
# file trusts its public half (bundle.publicKey).
LAB_BUNDLE_KEY := $(LAB_STATE)/bundle-signing/id_ed25519
# The lab mirror stands in for upstream: the cluster file's sources point at it.
LAB_HTTP := http://127.0.0.1:$(or $(AIRGAP_LAB_HTTP_PORT),18080)
LAB_REGISTRY := http://127.0.0.1:$(or $(AIRGAP_LAB_REGISTRY_PORT),15000)
# The lab site has no DNS server (CoreDNS answers cluster names only). Its hosts are containers
# on a machine without CAP_SYS_RESOURCE: containers cannot get
# a negative OOM score adjustment (see the containerd role's containerd_restrict_oom_score_adj).
# SSH pipelining halves the round trips of a run. The hosts' SSH user is not root (debian, with
# passwordless sudo: lab/hosts/labhosts.py writes it into state/hosts.json, whose rows the
# generator turns into each host's ssh.user), so every play proves its become; pipelining with
# become needs a sudo without requiretty, which Debian's is (the host image checks).
LAB_SETTINGS := {"cluster_settings": {"addons": {"sampleApp": {"enabled": true}}, \
  "network": {"upstreamDNS": []}, "bundle": {"publicKey": "$(LAB_BUNDLE_KEY).pub"}, \
  "vars": {"containerd_restrict_oom_score_adj": true, "ansible_pipelining": true, \
           "ansible_python_interpreter": "/usr/bin/python3"}, "sources": { \
  "kubernetesReleases": "$(LAB_HTTP)/dl.k8s.io", "githubReleases": "$(LAB_HTTP)/github.com", \
  "debianArchive": "$(LAB_HTTP)/deb.debian.org/debian", \
  "registryK8sIo": "$(LAB_REGISTRY)/registry.k8s.io", "dockerHub": "$(LAB_REGISTRY)/docker.io", \
  "quayIo": "$(LAB_REGISTRY)/quay.io"}}}

.PHONY: help deps venv lab lab-up lab-mirror lab-hosts lab-bundle lab-cluster lab-down test lint sanity units packaging ee lab-test e2e molecule-roles
# ansible-playbook with this checkout as the collection airgap.kubernetes.
ANSIBLE_PLAYBOOK = ANSIBLE_COLLECTIONS_PATH=$$($(PY) tests/collection.py) ANSIBLE_CALLBACKS_ENABLED=airgap.kubernetes.phases ansible-playbook
# The admin kubeconfig site.yml wrote, where the collection's model puts it (the cluster file's
# stateDir); asked when the `lab` recipe runs, after lab-hosts has written the cluster file.
LAB_KUBECONFIG = $(shell $(PY) tests/cluster_names.py $(LAB_CLUSTER) kubeconfig)
# The mirror serves files as downloads (not executable); the lab's kubectl is a copy.
KUBECTL := $(LAB_STATE)/bin/kubectl
KUBECTL_MIRROR = $(AIRGAP_LAB_CACHE)/mirror/files/dl.k8s.io/release/$(shell $(PY) lab/labconf.py kubernetes-version)/bin/linux/amd64/kubectl

help:
	@echo "make lab         mirror + hosts, the bundle, site.yml, then kubectl get nodes and ns"
	@echo "make lab-mirror  build the upstream-equivalent artifacts and serve them on 127.0.0.1"
	@echo "make lab-hosts   start the systemd hosts on an --internal podman network"
	@echo "make lab-bundle  build the lab cluster file's bundle from the mirror"
	@echo "make lab-cluster run site.yml against the lab hosts"
	@echo "make lab-down    remove everything the lab created"
	@echo "make test        lint, sanity, unit tests, packaging, the EE definition, the lab's tests and the end-to-end suite (make e2e)"
	@echo "make packaging   build the collection, install it offline into ansible-core alone (2.19.0, 2.21.5), check it"
	@echo "make ee          the execution environment definition as ansible-builder create reads it"

deps:
	@lab/deps.sh

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

lab-mirror: deps venv
	$(PY) lab/mirror/build.py

lab-hosts: deps venv
	$(PY) lab/hosts/labhosts.py up
	test -e $(LAB_BUNDLE_KEY) || { install -d -m 0700 $(dir $(LAB_BUNDLE_KEY)) && \
	  ssh-keygen -q -t ed25519 -N '' -C airgap-lab-bundle -f $(LAB_BUNDLE_KEY); }
	ANSIBLE_COLLECTIONS_PATH=$$($(PY) tests/collection.py) ansible-playbook -i localhost, \
	  playbooks/generate_cluster_config.yml -e cluster=lab -e nodes_file=$(LAB_STATE)/hosts.json \
	  -e fail_cgroup_v1=false -e dest=$(LAB_CLUSTER) -e force=true -e '$(LAB_SETTINGS)' \
	  -e "ssh_common_args='-o UserKnownHostsFile=$(LAB_STATE)/ssh/known_hosts -o StrictHostKeyChecking=yes'"

lab-up: lab-mirror lab-hosts

# The connected side: the bundle of the lab's cluster file, built from the mirror.
lab-bundle: lab-up
	$(ANSIBLE_PLAYBOOK) -i $(LAB_CLUSTER) playbooks/bundle.yml -e bundle_signing_key=$(LAB_BUNDLE_KEY)

# The air-gapped side: site.yml against the lab hosts over SSH, from the bundle alone.
lab-cluster: lab-bundle
	$(ANSIBLE_PLAYBOOK) -i $(LAB_CLUSTER) site.yml

lab: lab-cluster
	install -D -m 0755 $(KUBECTL_MIRROR) $(KUBECTL)
	$(KUBECTL) --kubeconfig $(LAB_KUBECONFIG) get nodes -o wide
	$(KUBECTL) --kubeconfig $(LAB_KUBECONFIG) get ns

lab-down: venv
	$(PY) lab/hosts/labhosts.py down
	$(PY) lab/mirror/serve.py down

test: lint sanity units packaging ee lab-test e2e

lint: venv
	yamllint --strict .
	ansible-lint
	antsibull-changelog lint
	$(PY) tests/lint_argument_specs.py

sanity: venv
	tests/sanity.sh

units: deps venv
	$(PY) -m pytest -q tests/unit

# The built tarball, installed with --offline into venvs holding ansible-core alone (made once in
# $(AIRGAP_LAB_CACHE)/venvs): ansible-doc lists every plugin and role, every playbook passes
# --syntax-check, registry_pki runs. Needs no repo venv.
packaging:
	tests/packaging/offline_install.sh

# The execution environment definition (meta/execution-environment.yml) as ansible-builder reads
# it: the build context it writes carries meta/requirements.txt and meta/bindep.txt (no image is
# built). ansible-builder has a venv of its own in the lab cache, made on first use.
ee: venv
	tests/packaging/test_ee.sh

lab-test: lab-up
	$(PY) -m pytest -q lab/tests tests/lab

# The end-to-end suite (molecule/default): fresh lab hosts and the bundle (create), site.yml
# (converge), a second site.yml that must change nothing (idempotence), tests/e2e (verify), and
# the hosts removed (destroy).
e2e: deps venv
	ANSIBLE_COLLECTIONS_PATH=$$($(PY) tests/collection.py) molecule test -s default

# The role scenarios (molecule/registry, node, containerd, kubelet; docs/lab.md): each role alone on
# one fresh lab host (AIRGAP_LAB_HOSTS=1), a check-mode run first, then converge, idempotence and
# testinfra, and the host removed. Each removes the lab's hosts first, as e2e does. The four took
# 7 min 5 s on 2026-11-27 (all green); they join `test` once a CI run has carried them.
molecule-roles: deps venv
	ANSIBLE_COLLECTIONS_PATH=$$($(PY) tests/collection.py) molecule test -s registry
	ANSIBLE_COLLECTIONS_PATH=$$($(PY) tests/collection.py) molecule test -s node
	ANSIBLE_COLLECTIONS_PATH=$$($(PY) tests/collection.py) molecule test -s containerd
	ANSIBLE_COLLECTIONS_PATH=$$($(PY) tests/collection.py) molecule test -s kubelet
