#!/usr/bin/env bash
# The Debian packages: release binaries (built once here), then target/debian/*.deb, which
# tests/tests/packages.rs installs, checks and purges.
set -euo pipefail
cargo build --release --locked -p ward-agent -p ward-collector
scripts/build-debs
