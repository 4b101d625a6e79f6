"""Settings of the production start command, the one line the image and ``make serve-prod`` run:

    python -m gunicorn -c python:python_docs_qa.ops.gunicorn_conf

Everything else about serving in production lives here. gunicorn supervises ``workers``
processes (restarts one that dies, stops them gracefully on SIGTERM, replaces them all
on SIGHUP: new workers load the index on disk now, old ones finish their requests); each
is a uvicorn event loop with its own copy of the index and the embedding model. Host, port
and worker count are the project's settings (the image sets the host to 0.0.0.0):
``PYTHON_DOCS_QA_HOST``, ``PYTHON_DOCS_QA_PORT``,
``PYTHON_DOCS_QA_WORKERS``.
"""

import os
from pathlib import Path

from python_docs_qa.config import ENV_PREFIX, Settings

# One torch thread per worker unless set: a worker already answers several requests at
# once on its thread pool, and torch's default (a thread per core in every worker) makes
# them fight over the cores. Workers are forked after this line and inherit it.
os.environ.setdefault(f"{ENV_PREFIX}TORCH_THREADS", "1")

_settings = Settings()

# an ASGI app, despite gunicorn's name for the setting
wsgi_app = "python_docs_qa.serve:app_from_env()"
# uvicorn's worker, plus a deadline for slow clients (ops/http.py's RequestDeadline)
worker_class = "python_docs_qa.ops.http.Worker"
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
timeout = 60  # a worker silent this long (stuck, not slow) is killed and replaced
graceful_timeout = 20  # in-flight requests get this long after SIGTERM
keepalive = 5
# Heartbeat files in memory: on a container's disk a slow write can look like a hung worker.
# A shared folder is safe for them: gunicorn (workers/workertmp.py) makes each one with
# tempfile.mkstemp, a fresh owner-only name, and unlinks it at once.
_SHARED_MEMORY = "/dev/shm"  # nosec B108 # gunicorn's mkstemp makes the files, see above
worker_tmp_dir = _SHARED_MEMORY if Path(_SHARED_MEMORY).is_dir() else None
accesslog = None  # per-request lines cost throughput; errors still go to stderr
