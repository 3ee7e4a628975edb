# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serves the GitLab double (tests/doubles/gitlab.py) for this scenario, detached from
the molecule step that starts it, on a fixed port with fixed tokens from molecule.yml.

    gitlab_double.py start PORT ADMIN_TOKEN USER_TOKEN PID_FILE
    gitlab_double.py stop PID_FILE

`start` does nothing when the double of PID_FILE still runs; `stop` ends only that pid.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LAB_DIR = Path(os.environ.get("FLYWHEEL_LAB_DIR", ROOT / ".lab"))


def running(pid_file):
    try:
        pid = int(Path(pid_file).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def serve(port, admin_token, user_token):
    sys.path.insert(0, str(LAB_DIR / "collections"))
    from ansible_collections.glorious.flywheel.tests.doubles.gitlab import GitLab

    gitlab = GitLab(port=int(port))
    gitlab.admin_token, gitlab.user_token = admin_token, user_token
    gitlab.start()

    def finish(*_signal):
        gitlab.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    while True:
        time.sleep(3600)


def start(port, admin_token, user_token, pid_file):
    if running(pid_file):
        return
    # The child keeps its own copy of the log's descriptor.
    with open(Path(pid_file).with_suffix(".log"), "ab") as log:
        child = subprocess.Popen(
            [sys.executable, __file__, "serve", port, admin_token, user_token],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    Path(pid_file).write_text(str(child.pid))
    version = f"http://127.0.0.1:{port}/api/v4/version"
    for _attempt in range(50):
        request = urllib.request.Request(version, headers={"PRIVATE-TOKEN": user_token})
        try:
            with urllib.request.urlopen(request, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    sys.exit(f"the GitLab double did not answer on port {port}")


def stop(pid_file):
    pid = running(pid_file)
    if pid:
        os.kill(pid, signal.SIGTERM)
    Path(pid_file).unlink(missing_ok=True)


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"serve": serve, "start": start, "stop": stop}[command](*arguments)
