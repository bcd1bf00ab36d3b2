#!/usr/bin/env bash
# The fuzz targets' short run (docs/campaign.md has the long one): every import parser and the
# report decoder built with libFuzzer's coverage instrumentation on the stable toolchain, each
# run on its seeds (the real captures in ../shared/realdata, the repository's fixtures) for a
# thousand inputs. A crash, a timeout or an out-of-memory fails the run.
set -euo pipefail
fuzz/run smoke 1000
