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
need=()
for pkg in ${MULTIVIP_TEST_APT-chromium systemd iproute2 zsh fish postgresql}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  # A partly upgraded image can refuse a plain install (held-back dependencies); -f repairs it first.
  (export DEBIAN_FRONTEND=noninteractive
   apt-get update -qq \
     && { apt-get install -y -qq "${need[@]}" \
          || { apt-get install -y -qq -f && apt-get install -y -qq "${need[@]}"; }; }) >/dev/null 2>&1 \
    || echo "test.sh: could not install ${need[*]}" >&2
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
