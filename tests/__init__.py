"""Test settings, applied before anything imports fast_zero.

Cheap Argon2 parameters keep the suite fast; the values production uses are
the Settings defaults. Environment variables already set win.
"""

import os

os.environ.setdefault('ENVIRONMENT', 'development')
os.environ.setdefault('ARGON2_TIME_COST', '1')
os.environ.setdefault('ARGON2_MEMORY_COST', '1024')
os.environ.setdefault('ARGON2_PARALLELISM', '1')
