"""Install the loopback-only network guard in every child Python process of the
tests (this directory is put on PYTHONPATH with PRIZM_NETGUARD=1)."""

import os

if os.environ.get("PRIZM_NETGUARD") == "1":
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    from devtools.netguard import install

    install()
