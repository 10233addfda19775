# sealpost — make targets. `make demo` and `make test` work on a fresh
# machine: test installs GnuPG and OpenSSH's server first when missing.

GO      ?= go
BIN     ?= bin/sealpost
PKGS    := ./...
FUZZTIME ?= 10s
# staticcheck, pinned; `go run` fetches it through the module proxy once.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# make install: DESTDIR stages the files for a package; PREFIX is where
# they will live. The configuration folder is never overwritten.
DESTDIR    ?=
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DOCDIR     ?= $(PREFIX)/share/doc/sealpost
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system
INSTALL    ?= install

.PHONY: all build test test-race test-deps demo bench bench-go fuzz lint clean install uninstall

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/sealpost

demo: build
	$(BIN) demo

test-deps:
	@scripts/test-deps.sh

# Tests whose worlds are independent run side by side (t.Parallel): they
# wait on processes, sockets and fsync more than on the CPU, so more of them
# than cores (go test's default -parallel) keep two cores busy.
TEST_PARALLEL ?= 8

test: test-deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -parallel $(TEST_PARALLEL) -timeout 20m $(PKGS)

# The race detector over the code that runs goroutines side by side: the
# exchange log, the transports, the test servers, and the engine's tests of
# faults, crashes, cancelling, the daemon and concurrent runs and workers.
RACE_PKGS := ./exchange/audit ./exchange/sftpdrop ./exchange/localdrop ./internal/...
RACE_RUN  := Fault|Abandoned|Retry|Crash|Daemon|TwoRuns|SeveralPartners|BothWays|SelfCheck|Progress|Locked|Cancel|Hosting
test-race: test-deps
	$(GO) test -race -count=1 -parallel $(TEST_PARALLEL) -timeout 20m $(RACE_PKGS)
	$(GO) test -race -count=1 -parallel $(TEST_PARALLEL) -timeout 20m -run '$(RACE_RUN)' ./exchange

# sealpost side by side with gpg + OpenSSH sftp on a loopback sshd of its
# own; sizes and rounds from BENCH_* (see scripts/bench.sh). Not run in CI.
bench: test-deps build
	@scripts/bench.sh

# The Go benchmarks of the inner stages (tar, seal, open, upload, download).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./crypto ./exchange/...

# Each fuzz target in turn, $(FUZZTIME) each; the corpus lives in testdata/fuzz.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	@! git grep -n 'InsecureIgnoreHostKey' -- '*.go' ':!**/*_test.go' || { echo 'InsecureIgnoreHostKey must never be used'; exit 1; }
	@! git grep -n '"golang.org/x/crypto/openpgp' -- '*.go' ':!**/*_test.go' || { echo 'golang.org/x/crypto/openpgp is deprecated and unsafe'; exit 1; }

# The binary, the systemd unit (pointing at $(BINDIR)), the docs, and
# $(SYSCONFDIR)/sealpost (0750) with keys/ (0700), the example
# configuration (sealpost.yaml.example, and sealpost.yaml 0600 when there
# is none yet) and the cron example. See docs/operations.md.
install: build
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/sealpost
	sed 's|/usr/local/bin/sealpost|$(BINDIR)/sealpost|g; s|/usr/local/share/doc/sealpost|$(DOCDIR)|g; s|/etc/sealpost|$(SYSCONFDIR)/sealpost|g' \
		dist/sealpost.service > $(DESTDIR)$(UNITDIR)/sealpost.service.tmp
	$(INSTALL) -m 0644 $(DESTDIR)$(UNITDIR)/sealpost.service.tmp $(DESTDIR)$(UNITDIR)/sealpost.service
	rm -f $(DESTDIR)$(UNITDIR)/sealpost.service.tmp
	$(INSTALL) -d -m 0755 $(DESTDIR)$(DOCDIR)/docs
	$(INSTALL) -m 0644 README.md SECURITY.md config.example.yaml $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 docs/operations.md docs/format.md docs/states.md docs/architecture.md docs/partner-without-sealpost.md $(DESTDIR)$(DOCDIR)/docs/
	$(INSTALL) -d -m 0755 $(DESTDIR)$(DOCDIR)/contrib/gpg-partner
	$(INSTALL) -m 0755 contrib/gpg-partner/*.sh $(DESTDIR)$(DOCDIR)/contrib/gpg-partner/
	$(INSTALL) -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/sealpost
	$(INSTALL) -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/sealpost/keys
	$(INSTALL) -m 0640 config.example.yaml $(DESTDIR)$(SYSCONFDIR)/sealpost/sealpost.yaml.example
	$(INSTALL) -m 0644 dist/sealpost.cron $(DESTDIR)$(SYSCONFDIR)/sealpost/sealpost.cron.example
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/sealpost/sealpost.yaml ]; then \
		$(INSTALL) -m 0640 config.example.yaml $(DESTDIR)$(SYSCONFDIR)/sealpost/sealpost.yaml; \
		echo "installed $(SYSCONFDIR)/sealpost/sealpost.yaml from the example: edit it"; \
	else echo "kept the existing $(SYSCONFDIR)/sealpost/sealpost.yaml"; fi
	@echo "next: useradd --system --home-dir /var/lib/sealpost --shell /usr/sbin/nologin sealpost;"
	@echo "      chgrp -R sealpost $(SYSCONFDIR)/sealpost; chown sealpost $(SYSCONFDIR)/sealpost/keys; then see docs/operations.md"

# Removes what install put in place, except the configuration folder.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sealpost $(DESTDIR)$(UNITDIR)/sealpost.service
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf bin
