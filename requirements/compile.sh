#!/usr/bin/env bash
# Regenerates lock-linux-x86_64-cpu.txt from the ranges in pyproject.toml: every package the
# package, its test, slurm, docs, lint and release extras need, pinned, with SHA-256 hashes,
# for CPython 3.11 on Linux x86-64 and torch's CPU build.
#
#   pip install uv && requirements/compile.sh             # keeps the current pins where they still fit
#   pip install uv && requirements/compile.sh --upgrade   # the newest versions the ranges allow
#
# torch's CPU build (2.13.0+cpu) is not on PyPI: TORCH_WHEELS names a folder holding its wheel
# (default /opt/wheels; `pip download torch==2.13.0+cpu --no-deps -d DIR --index-url
# https://download.pytorch.org/whl/cpu` fills one).
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml \
    --extra test --extra slurm --extra docs --extra lint --extra release \
    --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    --find-links "${TORCH_WHEELS:-/opt/wheels}" \
    --custom-compile-command "requirements/compile.sh" \
    -o requirements/lock-linux-x86_64-cpu.txt "$@"
