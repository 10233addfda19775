# sealpost — make targets. `make demo` and `make test` work on a fresh
# machine: test installs GnuPG and OpenSSH's server first when missing.

GO      ?= go
BIN     ?= bin/sealpost
PKGS    := ./...
FUZZTIME ?= 10s

.PHONY: all build test test-deps demo bench fuzz lint clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/sealpost

demo: build
	$(BIN) demo

test-deps:
	@scripts/test-deps.sh

test: test-deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

bench: test-deps build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./crypto ./exchange/...

# Each fuzz target in turn, $(FUZZTIME) each; the corpus lives in testdata/fuzz.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(PKGS)
	@! git grep -n 'InsecureIgnoreHostKey' -- '*.go' ':!**/*_test.go' || { echo 'InsecureIgnoreHostKey must never be used'; exit 1; }
	@! git grep -n '"golang.org/x/crypto/openpgp' -- '*.go' || { echo 'golang.org/x/crypto/openpgp is deprecated and unsafe'; exit 1; }

clean:
	rm -rf bin
