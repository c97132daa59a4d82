import subprocess
import sys

import mlfn


def test_all_is_sorted_and_complete():
    assert mlfn.__all__ == sorted(mlfn.__all__)
    for name in mlfn.__all__:
        assert getattr(mlfn, name) is not None, name


def test_importing_mlfn_does_not_import_pulumi():
    code = "import sys, mlfn; print('pulumi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
