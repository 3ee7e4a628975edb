"""The collection's health and forge probe code, imported as Ansible imports it.

The dashboard needs ``glorious.flywheel`` importable as
``ansible_collections.glorious.flywheel``: an installed collection (the Containerfile
installs the built collection tarball), or a checkout exposed through
ANSIBLE_COLLECTIONS_PATH as hack/lib/venv.sh does. Each entry of that variable is put on
sys.path the way Ansible's own loader reads it, so one setting serves both.
"""

from __future__ import annotations

import os
import sys

for _entry in reversed(
    os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)
):
    if _entry and _entry not in sys.path:
        sys.path.insert(0, _entry)

# pylint: disable=wrong-import-position
from ansible_collections.glorious.flywheel.plugins.module_utils import (  # noqa: E402
    _forge_runners as forge_runners,
)
from ansible_collections.glorious.flywheel.plugins.module_utils import (  # noqa: E402
    _health as health,
)

__all__ = ["forge_runners", "health"]
