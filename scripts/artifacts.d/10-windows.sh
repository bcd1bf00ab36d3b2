#!/usr/bin/env bash
# The Windows agent, cross-built on Linux: ward-agent.exe (release, --locked), the MSI built
# from deploy/windows/ward-agent.wxs with wixl and checked with msiinfo, and the test-only
# ProcessPrng shim the Wine end-to-end test puts beside the exe (never shipped).
#
# Outputs: target/x86_64-pc-windows-gnu/release/ward-agent.exe
#          target/msi/ward-agent.msi
#          target/wine-shim/bcryptprimitives.dll
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=()
for tool in x86_64-w64-mingw32-gcc wixl msiinfo msibuild; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "skipped: ${missing[*]} not installed (scripts/packages.txt lists them)" >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi

cargo build --release --locked --target x86_64-pc-windows-gnu -p ward-agent
exe=target/x86_64-pc-windows-gnu/release/ward-agent.exe

mkdir -p target/wine-shim
x86_64-w64-mingw32-gcc -O2 -shared -o target/wine-shim/bcryptprimitives.dll \
  tests/wine-shim/processprng.c -ladvapi32

version=$(cargo metadata --format-version 1 --no-deps \
  | sed -n 's/.*"name":"ward-agent","version":"\([^"]*\)".*/\1/p')
mkdir -p target/msi
# wixl resolves File sources relative to the .wxs; it cannot mark properties Secure, so the
# three WARD_* properties are added to SecureCustomProperties afterwards (managed, elevated
# installs pass only secure public properties on to the service's registry values).
wixl --arch x64 -D Version="$version" -D AgentExe="../../$exe" \
  -o target/msi/ward-agent.msi deploy/windows/ward-agent.wxs
msibuild target/msi/ward-agent.msi -q "UPDATE \`Property\` SET \`Value\` = \
'WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;WARD_SERVER;WARD_ENROLL_SECRET;WARD_CA' \
WHERE \`Property\` = 'SecureCustomProperties'"

# The MSI holds what it must: the exe, the service, the registry settings, the properties,
# the upgrade rule.
msi=target/msi/ward-agent.msi
tables=$(msiinfo tables "$msi")
for t in File ServiceInstall ServiceControl Registry Property Upgrade; do
  grep -qx "$t" <<<"$tables" || { echo "MSI lacks table $t" >&2; exit 1; }
done
# (Each table is read into a variable first: `grep -q` stops reading at the first match, and
# under pipefail the writer's SIGPIPE would fail the check at random.)
files=$(msiinfo export "$msi" File)
grep -q 'ward-agent.exe' <<<"$files" || { echo "MSI lacks ward-agent.exe" >&2; exit 1; }
services=$(msiinfo export "$msi" ServiceInstall)
grep -q 'WardAgent' <<<"$services" || { echo "MSI does not install the service" >&2; exit 1; }
controls=$(msiinfo export "$msi" ServiceControl)
grep -q 'WardAgent' <<<"$controls" || { echo "MSI does not control the service" >&2; exit 1; }
registry=$(msiinfo export "$msi" Registry)
for p in WARD_SERVER WARD_ENROLL_SECRET WARD_CA; do
  grep -q "\[$p\]" <<<"$registry" || { echo "MSI does not store $p" >&2; exit 1; }
done
properties=$(msiinfo export "$msi" Property)
grep -q "ProductVersion.$version" <<<"$properties" || { echo "MSI version is not $version" >&2; exit 1; }
grep -q "SecureCustomProperties.*WARD_SERVER;WARD_ENROLL_SECRET;WARD_CA" <<<"$properties" \
  || { echo "WARD_* properties are not secure" >&2; exit 1; }
sequence=$(msiinfo export "$msi" InstallExecuteSequence)
grep -q RemoveExistingProducts <<<"$sequence" \
  || { echo "MSI does not upgrade in place" >&2; exit 1; }
echo "built $exe ($(stat -c %s "$exe") bytes), $msi ($(stat -c %s "$msi") bytes)"
