#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the image. It installs the pinned
# environment into its own virtual environment, never touching the system python3 that
# Gradescope's harness uses, then precomputes the reference outputs on this backend.
# AUTOGRADER_ROOT (default /autograder) lets tests run a whole Gradescope tree elsewhere.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
source_dir="$root/source"
venv="$root/venv"

new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && new_enough "$candidate"; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

if ! python="$(find_python)"; then
  # Ubuntu 22.04 ships Python 3.10: add 3.11 from its own archive, or else via uv.
  if command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      python3.11 python3.11-venv >/dev/null || true
  fi
  if ! python="$(find_python)"; then
    python3 -m pip install --quiet uv
    python3 -m uv python install 3.11
    python="$(python3 -m uv python find 3.11)"
  fi
fi
echo "setup.sh: using $python ($("$python" --version))"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$source_dir/requirements.lock"
# The grader's code is used in place: a .pth file puts the source folder on sys.path.
"$venv/bin/python" - "$source_dir" <<'PY'
import pathlib, site, sys
pathlib.Path(site.getsitepackages()[0], "autograder-source.pth").write_text(sys.argv[1] + "\n")
PY
# Reference outputs, and JAX's compiled programs for them (a correct student's are the same).
"$venv/bin/python" -m autograder warm --problems "$source_dir/problems" \
  --cache "$source_dir/.cache/expected" --compile-cache "$source_dir/.cache/jax"
# Student code will run as an unprivileged user that cannot read the problems or the
# expected outputs, and can read but not write the compilation cache.
"$venv/bin/python" -m autograder harden --problems "$source_dir/problems" \
  --cache "$source_dir/.cache/expected" --compile-cache "$source_dir/.cache/jax"
