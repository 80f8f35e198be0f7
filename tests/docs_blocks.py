"""The fenced code blocks of README.md and docs/*.md, and the runner of one page's blocks.

Blocks are found with markdown-it-py (CommonMark), so fences inside list items, longer
fences and tildes are read as a Markdown renderer reads them. The first word of a block's
info string says what the block is and how tests/test_docs.py runs it (see its docstring).

    python tests/docs_blocks.py BLOCKS.json

runs the page's ``sh`` and ``python`` blocks (and writes its named ``csv``/``json``
blocks) in order, in the current folder; it prints ``FAILED <file>:<line>`` and exits 1 at
the first block that fails."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# info string (first words) -> what the test does with the block
KINDS = {
    "feat": "compiled with skewless.check_source (with a file name: written there too)",
    "feat fragment": "part of a spec: must be in fmt's canonical layout",
    "sh": "run with bash -e -o pipefail in the page's prepared folder",
    "python": "executed in order in the page's namespace, in the prepared folder",
    "python standalone": "executed alone in a fresh interpreter, in the prepared folder",
    "python tft": "compiled as Python, not run (tensorflow_transform is not installed)",
    "json": "parsed as JSON (with a file name: written there for later blocks)",
    "csv": "parsed as CSV (with a file name: written there for later blocks)",
    "text": "not run: output, diagrams, synopses, commands that need a network or cloud",
}
SERVER_PID = "docs-server.pid"  # written by bin/skewless when `skewless serve` starts


@dataclasses.dataclass(frozen=True)
class Block:
    path: str   # relative to the repository
    line: int   # of the opening fence, from 1
    info: str   # the whole info string
    text: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def kind(self) -> str:
        """The longest KINDS key the info string starts with ('' when none)."""
        words = self.info.split()
        for size in (2, 1):
            if " ".join(words[:size]) in KINDS:
                return " ".join(words[:size])
        return ""

    @property
    def file_name(self) -> str:
        """The file a feat/csv/json block is written to (its info string's second word), or
        ''."""
        words = self.info.split()
        return words[1] if self.kind in ("feat", "csv", "json") and len(words) > 1 else ""

    def numbered(self) -> str:
        """The block's text placed at its lines in the page, for tracebacks."""
        return "\n" * self.line + self.text


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(page: Path) -> list[Block]:
    from markdown_it import MarkdownIt

    relative = page.relative_to(REPO).as_posix()
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    return [Block(relative, token.map[0] + 1, token.info.strip(), token.content)
            for token in tokens if token.type in ("fence", "code_block")]


def with_ports(text: str, grpc_port: int, rest_port: int) -> str:
    """The docs' default ports (8500 gRPC, 8501 REST) replaced by the page's free ports."""
    return text.replace(":8500", f":{grpc_port}").replace(":8501", f":{rest_port}")


def run_page(page_blocks: list[Block]) -> int:
    from docs_commands import CommandServer

    namespace = {"__name__": "__main__"}
    commands = CommandServer()  # the page's `skewless` commands run in this process
    try:
        for block in page_blocks:
            print(f"--- {block.where} ```{block.info}", flush=True)
            started = time.monotonic()
            passed = _run(block, namespace)
            print(f"--- {block.where}: {time.monotonic() - started:.1f} s", flush=True)
            if not passed:
                print(f"FAILED {block.where}", flush=True)
                return 1
        return 0
    finally:
        stop_server()
        commands.close()


def _run(block: Block, namespace: dict) -> bool:
    if block.file_name:
        Path(block.file_name).write_text(block.text, encoding="utf-8")
        return True
    if block.kind == "sh":
        command = ["bash", "-e", "-o", "pipefail", "-c", block.text]
        return subprocess.run(command, timeout=600).returncode == 0
    if block.kind == "python standalone":
        code = block.numbered()
        return subprocess.run([sys.executable, "-c", code], timeout=600).returncode == 0
    if block.kind == "python":
        sys.path[:0] = [] if os.getcwd() in sys.path else [os.getcwd()]
        try:
            exec(compile(block.numbered(), block.path, "exec"), namespace)
        except BaseException:  # noqa: BLE001 - the block's failure, shown with its lines
            import traceback

            traceback.print_exc()
            return False
    return True


def stop_server() -> None:
    """Stop the `skewless serve` a block started (bin/skewless runs it in the background)."""
    pid_file = Path(SERVER_PID)
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    loaded = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    sys.exit(run_page([Block(**block) for block in loaded]))
