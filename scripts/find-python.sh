#!/usr/bin/env bash
# Print the absolute path of the first Python 3.12+ that can create a virtualenv.
#
# Candidates come from $PYTHON_CANDIDATES, in order of preference. Each name is tried
# everywhere it occurs on PATH and, when pyenv is around, in every pyenv version that has it:
# a pyenv shim only runs the versions selected in pyenv, so `python3.13` can fail even though
# pyenv has 3.13 installed.
set -euo pipefail

candidates=${PYTHON_CANDIDATES:-python3.13 python3.12 python3}
check='import sys, venv, ensurepip; assert sys.version_info >= (3, 12); print(sys.executable)'

locations() {
  type -ap "$1" || true
  if command -v pyenv >/dev/null; then
    for version in $(pyenv whence "$1" 2>/dev/null | sort -rV); do
      PYENV_VERSION=$version pyenv which "$1" 2>/dev/null || true
    done
  fi
}

for name in $candidates; do
  for python in $(locations "$name"); do
    if "$python" -c "$check" 2>/dev/null; then
      exit 0
    fi
  done
done

cat >&2 <<EOF
No Python 3.12 or newer with the venv module was found (tried: $candidates).
Install one, for example:
  Debian 13:  apt-get install python3 python3-venv
  pyenv:      pyenv install 3.13
or name one with: make venv PYTHON_CANDIDATES=/path/to/python3.13
EOF
exit 1
