"""``serve``: the blocking entry point the CLI calls, run as a real process."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def test_serve_prints_its_url_and_answers_there_on_loopback_only(sqlite_storage):
    code = "import sys; from autoopt.dashboard import serve; serve(sys.argv[1], port=0)"
    process = subprocess.Popen([sys.executable, "-c", code, sqlite_storage.url], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url, timeout=30) as reply:
            assert sqlite_storage.mnist.study_name in reply.read().decode()
        rebinding = urllib.request.Request(url, headers={"Host": "attacker.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebinding, timeout=30)
        assert refused.value.code == 403
    finally:
        process.terminate()
        process.wait(timeout=30)
