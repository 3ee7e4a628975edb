"""Runs a module's main() in this process and returns its result.

ansible-playbook runs (tests/conftest.py: run_playbook) prove a module works the way
a playbook uses it; they cost seconds each. Many small cases (bad input, one API
quirk) only need the module's own code path, so they run main() here, fed through
ansible-core's own `patch_module_args`, and read the JSON it prints, in
milliseconds.
"""

import contextlib
import io
import json

from ansible.module_utils import _internal
from ansible.module_utils.common import warnings
from ansible.module_utils.testing import patch_module_args


def run_module(main, args, check_mode=False, diff=False):
    """The result dict of MAIN run with ARGS; ``failed`` is set when it failed."""
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    # Warnings are process-global in ansible-core; one module run per process
    # never notices, a test running many would see earlier runs' warnings.
    warnings._global_warnings.clear()
    warnings._global_deprecations.clear()
    out = io.StringIO()
    # A module runs outside the controller. Once this process has imported controller
    # code (a filter or action plugin under test), ansible-core believes it is the
    # controller and module warnings go to the display instead of into the result.
    was_controller = _internal.is_controller
    _internal.is_controller = False
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit as exited:
            code = exited.code
        else:
            code = None
        finally:
            _internal.is_controller = was_controller
    text = out.getvalue()
    result = json.loads(text)
    result["_stdout"] = text
    # ansible-core 2.19 modules report warnings as structured events; the
    # controller shows their messages, and so does this.
    result["warnings"] = [
        w["event"]["msg"] if isinstance(w, dict) else w
        for w in result.get("warnings") or []
    ]
    if code not in (0, None):
        result.setdefault("failed", True)
    return result
