"""Hash the JSON list of passwords on stdin with the service's own code;
print the JSON list of hashes. Run by bench/seeding.py in the servers'
environment, so the hashes follow the settings they run with."""

import json
import sys

from fast_zero.security import get_password_hash

json.dump([get_password_hash(p) for p in json.load(sys.stdin)], sys.stdout)
