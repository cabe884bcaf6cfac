"""A fork server for the kill tests: import torch once, fork a fresh process per run.

The run scripts (``_mining_run.py``, ``_kill_run.py``) call :func:`serve` when started
with ``--serve``; the tests drive them through :class:`ForkServer`, one line per
command: ``run CONFIG`` answers ``pid N``, ``wait N`` answers ``status CODE``.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def serve(main, err_key):
    """Serve ``run``/``wait`` commands from stdin; each run's stderr goes to
    ``config[err_key] + ".err"``."""
    for line in sys.stdin:
        command, arg = line.split()
        if command == "run":
            pid = os.fork()
            if pid == 0:  # the child: one run, its errors in <err_key>.err
                code = 1
                try:
                    with open(arg) as f:
                        err = os.open(json.load(f)[err_key] + ".err",
                                      os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                    os.dup2(err, 2)
                    main(arg)
                    code = 0
                except BaseException:  # noqa: BLE001 - reported through the exit status
                    import traceback
                    traceback.print_exc()
                finally:
                    sys.stderr.flush()
                    os._exit(code)
            print(f"pid {pid}", flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(arg), 0)
            print(f"status {os.waitstatus_to_exitcode(status)}", flush=True)


class ForkServer:
    """``python SCRIPT --serve``, started with this checkout's hardsample on the path."""

    def __init__(self, script):
        # the checkout's hardsample, not an installed copy (the script's folder, not
        # the repository root, heads sys.path)
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=path)
        self.process = subprocess.Popen([sys.executable, str(script), "--serve"], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.running = set()

    def _ask(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the fork server died"
        return int(answer.split()[1])

    def start(self, config_path):
        pid = self._ask(f"run {config_path}")
        self.running.add(pid)
        return pid

    def wait(self, pid):
        status = self._ask(f"wait {pid}")
        self.running.discard(pid)
        return status

    def close(self):
        """Kill the runs not waited for (a failed test), then stop the server."""
        for pid in sorted(self.running):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(pid)
        self.process.stdin.close()
        self.process.wait(timeout=30)
