# shellcheck shell=bash
# The controller virtualenv: built once per requirements hash under the cache dir,
# so fresh clones on the same machine reuse it. Sourced by hack/lab and hack/test.

ensure_venv() {
  local hash venv
  hash=$( (cat "$FLYWHEEL_ROOT/requirements.txt" "$FLYWHEEL_ROOT/requirements-dev.txt"; python3 --version) | sha256sum | cut -c1-12)
  venv=$FLYWHEEL_CACHE/venv-$hash
  if [ ! -x "$venv/bin/ansible-playbook" ]; then
    log "creating the controller virtualenv (first run only)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip >/dev/null
    "$venv/bin/pip" install -q -r "$FLYWHEEL_ROOT/requirements-dev.txt" || { rm -rf "$venv"; die "pip install failed"; }
  fi
  export VIRTUAL_ENV=$venv PATH=$venv/bin:$FLYWHEEL_BIN:$PATH
  # The checkout is the collection: expose it as glorious.flywheel to ansible, ansible-lint and molecule.
  local collections=$FLYWHEEL_LAB_DIR/collections
  mkdir -p "$collections/ansible_collections/glorious"
  ln -sfn "$FLYWHEEL_ROOT" "$collections/ansible_collections/glorious/flywheel"
  # Collections bundled by the `ansible` package are found on sys.path after these.
  export ANSIBLE_COLLECTIONS_PATH=$collections
}
