# Sourced by run.sh and test.sh: create a virtual environment with mailwizard installed.

ensure_venv() {  # ensure_venv DIR EXTRAS [PYTHON]
  local dir=$1 extras=$2 py=${3:-python3}
  if [ ! -x "$dir/bin/python" ]; then
    # a first run takes 15-25 s: say so, rather than leave a blank terminal
    echo "Preparing $dir: a Python virtual environment for mailwizard (first run only)..." >&2
    if ! "$py" -m venv "$dir" 2>/dev/null; then
      rm -rf "$dir"
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "python3-venv is missing: installing it with apt-get" >&2
        apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null
        "$py" -m venv "$dir"
      else
        echo "Cannot create a virtual environment: install python3-venv (as root: apt-get install python3-venv)" >&2
        return 1
      fi
    fi
  fi
  local stamp="$dir/.mailwizard-installed"
  local want
  want=$(cat pyproject.toml; echo "$extras")
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing mailwizard and its libraries into $dir (pip; about 15 s)..." >&2
    "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    if ! "$dir/bin/python" -m pip install -q -e ".$extras" >"$dir/pip-install.log" 2>&1; then
      cat "$dir/pip-install.log" >&2
      return 1
    fi
    # an editable install leaves mailwizard's own modules uncompiled (a wheel install, as on a
    # server, compiles them); where bytecode is not written (PYTHONDONTWRITEBYTECODE) each
    # start would compile them again, three dozen before the first screen
    "$dir/bin/python" -m compileall -q wizard screens recipes >/dev/null 2>&1 || true
    printf '%s' "$want" > "$stamp"
    echo "Ready." >&2
  fi
}

find_python39() {  # a working Python 3.9 (pyenv's shims are not enough: they may refuse)
  local p
  for p in "$HOME"/.pyenv/versions/3.9*/bin/python3.9 /root/.pyenv/versions/3.9*/bin/python3.9 \
           "$(command -v python3.9 2>/dev/null)"; do
    [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import sys; assert sys.version_info[:2] == (3, 9)' \
      >/dev/null 2>&1 && { echo "$p"; return 0; }
  done
  return 1
}
