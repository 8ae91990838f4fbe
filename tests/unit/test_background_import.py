"""Great Expectations imported in a thread while the nightly waits on dbt (pipelines.quality): in a fresh
interpreter, so that the import really happens in the thread. (A plain ``import great_expectations`` racing
the thread fails here with "partially initialized module" most times, not always: not a test, the reason
for the wait.)"""

import subprocess
import sys

SCRIPT = """
import sys
from pipelines import quality
assert not any(m in sys.modules for m in quality.GX_MODULES)
quality.import_great_expectations_in_background()
{after}
"""


def run(after: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT.format(after=after)], capture_output=True, text=True,
                          timeout=120)


def test_the_report_asking_at_once_waits_for_the_thread_and_gets_whole_modules():
    done = run("gx, gxe = quality.great_expectations()\n"
               "assert gxe.ExpectColumnValuesToBeBetween and gx.get_context\n"
               "assert not quality._background_import.is_alive()\n"
               "assert all(m in sys.modules for m in quality.GX_MODULES)\nprint('ok')")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_process_that_ends_first_ends_cleanly():
    ended = run("print('ending')")
    assert ended.returncode == 0 and ended.stdout.strip() == "ending" and "Traceback" not in ended.stderr
