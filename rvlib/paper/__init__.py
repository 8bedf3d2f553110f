"""The paper's reproduction: its reference numbers and its per-image protocol."""
from rvlib.paper.reference import *  # noqa: F401,F403
