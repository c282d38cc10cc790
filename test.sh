#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, runs every test project, and
# ends with the line "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

# Tools pinned in .config/dotnet-tools.json (pwsh for the PowerShell module tests).
if [ -f .config/dotnet-tools.json ]; then
  dotnet tool restore >/dev/null || echo "test.sh: dotnet tool restore failed" >&2
fi

# Debian packages some tests drive for real (installed only when missing; needs root and apt).
# chromium: the dashboard's browser tests (Playwright drives /usr/bin/chromium, never its own build).
# systemd: systemd-analyze verifies packaging/systemd/multivip.service (nothing is started).
# iproute2: the network namespace tests (tests/MultiVip.Network.Tests) build their topologies with `ip`.
# zsh, fish: the CLI's shell completion scripts run in them (bash is there already).
# npm (with nodejs): the build vendors the dashboard's chart library (uPlot) with `npm ci`; checked
# as a command, since a Node.js from elsewhere brings its own npm.
# postgresql: the PostgreSQL state store's tests start a throwaway PostgreSQL 15 cluster (tests/MultiVip.TestSupport/Postgres).
# nftables, conntrack: the kernel data plane's namespace tests (tests/MultiVip.Network.Tests/Kernel).
# keepalived, bird2: the failover tests run them inside their own network namespaces only.
need=()
for pkg in ${MULTIVIP_TEST_APT-chromium systemd iproute2 zsh fish postgresql nftables conntrack keepalived bird2}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  # Debian starts a packaged daemon as soon as apt installs it (bird2 would run BIRD in the host's
  # root namespace, postgresql a cluster on :5432). The tests start their own instances in namespaces
  # or temporary directories, so installs here start nothing: a policy-rc.d that refuses every start
  # (exit 101, the documented convention) for the time of the install, unless one is there already.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ] && [ -w /usr/sbin ]; then
    printf '#!/bin/sh\n# written by MultiVip test.sh for the time of an apt-get install\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  # A partly upgraded image can refuse a plain install (held-back dependencies); -f repairs it first.
  # One package that cannot be installed (npm beside a Node.js from elsewhere, say) must not keep
  # the others out: after a refused batch, each is tried alone and the ones refused are named.
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null 2>&1; then
    if ! apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; then
      apt-get install -y -qq -f >/dev/null 2>&1
      for pkg in "${need[@]}"; do
        apt-get install -y -qq "$pkg" >/dev/null 2>&1 || echo "test.sh: could not install $pkg" >&2
      done
    fi
  else
    echo "test.sh: apt-get update failed; could not install ${need[*]}" >&2
  fi
  [ $own_policy -eq 1 ] && rm -f "$policy"
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
dotnet build MultiVip.slnx -c Release --nologo -v quiet -clp:ErrorsOnly
build=$?
status=$build
if [ $build -eq 0 ]; then
  # One run per test project, each with its own result file (TRX names made by the logger itself
  # have one-second resolution and can collide when projects finish together).
  for project in tests/*/*.Tests.csproj; do
    name=$(basename "$project" .csproj)
    dotnet test "$project" -c Release --no-build --nologo \
      --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" --results-directory "$results" "$@"
    code=$?
    [ $code -ne 0 ] && status=$code
    [ -f "$results/$name.trx" ] || { echo "test.sh: $name produced no results (test host crashed?)" >&2; status=1; }
  done
fi

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
# A build failure or a crashed test host fails the run even when no test reported a failure.
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
  failed=1
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
