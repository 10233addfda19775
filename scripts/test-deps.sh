#!/usr/bin/env bash
# Installs what the tests need when it is missing: GnuPG, Sequoia's sq and
# rnp (interoperability both ways), OpenSSH's server (end-to-end tests
# against a real sshd) and jq (contrib/gpg-partner's scripts, which the
# tests run).
set -euo pipefail
need=()
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v sq >/dev/null 2>&1 || need+=(sq)
command -v rnp >/dev/null 2>&1 || need+=(rnp)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v tar >/dev/null 2>&1 || need+=(tar)
command -v jq >/dev/null 2>&1 || need+=(jq)
[ ${#need[@]} -eq 0 ] && exit 0
echo "test-deps: installing ${need[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
