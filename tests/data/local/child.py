"""A briefing process for tests/test_local.py's signal tests.

Usage: child.py embedded|serve CACHE_DIR SERVER_BINARY MODEL_FILE [STARTUP_TIMEOUT]

``embedded`` enters ``embedded_server`` and prints ``READY <pid>`` then sleeps; ``serve`` runs
``serve_forever`` and prints ``SERVED`` when it returns. Status lines go to stderr.
"""

import sys
import time
from pathlib import Path

from briefing.config import BriefSpec, LocalSettings, Settings
from briefing.llm.local import embedded_server, serve_forever


def main() -> int:
    mode, cache_dir, binary, model = sys.argv[1:5]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
    settings = Settings(
        brief=BriefSpec(),
        model="fake-alias",
        cache_dir=Path(cache_dir),
        local=LocalSettings(
            model_path=Path(model),
            server_binary=Path(binary),
            threads=1,
            startup_timeout=timeout,
        ),
    )

    def status(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if mode == "embedded":
        with embedded_server(settings, status) as server:
            print(f"READY {server.pid}", flush=True)
            time.sleep(120)
        return 0
    serve_forever(settings, status)
    print("SERVED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
