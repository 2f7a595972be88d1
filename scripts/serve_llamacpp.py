"""Serves a GGUF model with llama.cpp's own HTTP server (xllamacpp, in-process) on 127.0.0.1.

    .cache/llama-server/bin/python scripts/serve_llamacpp.py MODEL.gguf PORT [THREADS [CONTEXT]]

CONTEXT is the context of each of the two slots (default 4096 tokens; SmolLM2 takes 8192).

Serves until killed. Installed by scripts/fetch_llama_server.sh; the remote backend's tests start
it on a free port and stop it by the process id they started.
"""

import signal
import sys
import time

import xllamacpp


def main() -> None:
    model, port = sys.argv[1], int(sys.argv[2])
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.port = port
    params.hostnames = ["127.0.0.1"]
    context = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
    params.n_ctx = 2 * context
    params.n_parallel = 2
    params.cpuparams.n_threads = threads
    server = xllamacpp.Server(params)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(1)
    finally:
        del server


if __name__ == "__main__":
    main()
