"""Stand-in for the get-pip script ansible-test downloads from ci-files.testing.ansible.com.

That host is not reachable from this project's machines; PyPI is. ansible-test runs this
script in each fresh sanity venv with pip's options and the packages to pin (pip==X);
it bootstraps pip from the interpreter's bundled wheel and installs them from PyPI.
hack/test copies it to ~/.ansible/test/cache/get_pip_<version>.py, where ansible-test
looks before downloading (ansible_test/_util/target/setup/requirements.py).
"""

import ensurepip
import os
import subprocess
import sys

# ansible-test asks for venvs without setuptools and wheel; pip has no such flags.
BOOTSTRAP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap()
args = [arg for arg in sys.argv[1:] if arg not in BOOTSTRAP_ONLY_FLAGS]
# ansible-test isolates pip from the machine's config, and so from its CA bundle.
cert = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
if os.path.exists(cert):
    args = ["--cert", cert, *args]
status = subprocess.call([sys.executable, "-m", "pip", "install", "-q", *args])
if status == 0 and "--no-setuptools" in sys.argv:
    status = subprocess.call(
        [sys.executable, "-m", "pip", "uninstall", "-q", "-y", "setuptools"]
    )
sys.exit(status)
