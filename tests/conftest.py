"""Test setup: the repository root on sys.path, so configs/ imports as a package."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
