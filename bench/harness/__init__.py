"""Harnesses the tests and the benches both use: nginx with deploy/nginx.conf (nginx.py), load on
a running `publisher run` (load.py), and checks on what a run left (checks.py)."""
