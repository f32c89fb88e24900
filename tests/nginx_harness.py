"""deploy/nginx.conf run for real, and free_port(): both in bench/ now (bench/harness/nginx.py,
bench/_common.py), which the benches use too; this module keeps the name the tests import."""

from harness.nginx import DEPLOY, NGINX, command, conf, free_port, running  # noqa: F401
