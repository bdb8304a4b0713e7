"""Thin, shell-free wrappers around the ``git`` commands the indexer needs.

All commands run against a bare mirror. Paths come back as raw bytes from ``-z`` output and are decoded
as UTF-8 (with surrogate escapes, so no path is ever lost or mangled).
"""

import contextlib
import fcntl
import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from storage.dvc.parsing import CONFIG_PATH, is_tracked_path

NULL_SHA = "0" * 40
# Pathspecs of every file DVC commits; log filters by them so commits touching nothing else cost nothing.
TRACKED_PATHSPECS = ("*.dvc", "dvc.lock", "*/dvc.lock", CONFIG_PATH)
# Transports a repository URL may use; ext:: and friends would run commands.
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
LIVE_REF_PREFIXES = ("refs/heads/", "refs/tags/")
# Requests of at most 50 bytes: 1,000 of them stay below a 64 KiB pipe buffer.
_PIPELINE_BATCH = 1000
# Names that can be a DVC file (see is_tracked_path) or .dvc/config.
_CANDIDATE_SUFFIXES = (b".dvc", b"dvc.lock", b"config")
# git log may run this far ahead of the parsing (Linux's default cap for one unprivileged pipe).
_LOG_PIPE_SIZE = 1 << 20


class GitError(RuntimeError):
    pass


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS, "LC_ALL": "C"})
    return env


def _git(args: list[str], *, cwd: Path | None = None, stdin: bytes | None = None, timeout: float = 3600) -> bytes:
    command = ["git", "-c", "core.quotepath=false", *args]
    try:
        result = subprocess.run(
            command, cwd=cwd, input=stdin, capture_output=True, env=_env(), timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git {args[0]} failed: {error}") from error
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {args[0]} failed: {message}")
    return result.stdout


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def mirror_sync(url: str, mirror: Path) -> None:
    """Create the bare mirror on first use, else fetch every ref and drop refs deleted upstream."""
    if (mirror / "HEAD").exists():
        _git(["remote", "set-url", "origin", "--", url], cwd=mirror)  # the linked URL may have been edited
        _git(["fetch", "--prune", "--quiet", "origin"], cwd=mirror)
        return
    mirror.parent.mkdir(parents=True, exist_ok=True)
    _git(["clone", "--mirror", "--quiet", "--", url, str(mirror)])


@dataclass(frozen=True)
class RefHead:
    name: str  # e.g. refs/heads/main, refs/tags/v1
    commit: str  # annotated tags peeled to their commit


def ref_heads(mirror: Path) -> list[RefHead]:
    """Every ref of the mirror with the commit it points at (non-commit refs skipped)."""
    raw = _git(["for-each-ref", "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objectname)"], cwd=mirror)
    heads: list[RefHead] = []
    for line in raw.splitlines():
        name, kind, target, peeled = _text(line).split("\0")
        if kind == "commit":
            heads.append(RefHead(name, target))
        elif kind == "tag" and peeled:
            heads.append(RefHead(name, peeled))
    return heads


def default_branch(mirror: Path) -> str:
    try:
        return _text(_git(["symbolic-ref", "HEAD"], cwd=mirror)).strip()
    except GitError:
        return ""


def reachable_commits(mirror: Path) -> set[str]:
    return set(_text(_git(["rev-list", "--all"], cwd=mirror)).split())


def published_commits(mirror: Path) -> set[str]:
    """Commits a branch or tag reaches: not those only an experiment (``refs/exps/``), a stash or a note has."""
    return set(_text(_git(["rev-list", "--branches", "--tags"], cwd=mirror)).split())


def existing_objects(mirror: Path, shas: Iterable[str]) -> set[str]:
    wanted = sorted(set(shas))
    if not wanted:
        return set()
    raw = _git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd=mirror, stdin="\n".join(wanted).encode())
    found = set()
    for line in _text(raw).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] != "missing":
            found.add(parts[0])
    return found


class FileChange(NamedTuple):  # a tuple: thousands are made per history
    path: str
    old_blob: str  # NULL_SHA when the file did not exist in that parent
    new_blob: str  # NULL_SHA when the file was deleted


@dataclass
class CommitChanges:
    sha: str
    parents: list[str]
    author_name: str
    author_email: str
    authored_at: str  # ISO 8601 with offset
    # One list per parent diff git printed (``-m``); a merge lists only the parents that differ.
    diffs: list[list[FileChange]] = field(default_factory=list)


_LOG_FORMAT = "%x01%H%x00%P%x00%an%x00%ae%x00%aI"


class CommitLog:
    """Every commit reachable from any ref (and not from ``exclude``) that touched a DVC file, with its changes.

    ``git log --all --full-history -m --raw -z`` starts at once, writing into a pipe enlarged to hold a long
    stretch of history, so git walks ahead while the caller reads blobs or writes rows, and memory stays flat on
    long histories. No reader thread: one would fight the parsing for the GIL. Use as a context manager, then
    iterate.
    """

    def __init__(self, mirror: Path, *, exclude: Iterable[str] = ()) -> None:
        command = [
            "git", "-c", "core.quotepath=false", "log", "--all", "--stdin", "--full-history", "-m", "--raw",
            "--no-renames", "--no-abbrev", "-z", f"--format={_LOG_FORMAT}", "--", *TRACKED_PATHSPECS,
        ]  # fmt: skip
        # A file, so git never blocks on errors nobody reads yet; closed by close().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            command, cwd=mirror, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=_env()
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdout = self._process.stdout.fileno()
        with contextlib.suppress(AttributeError, OSError):  # Linux only, and capped per user: a larger pipe helps
            fcntl.fcntl(self._stdout, fcntl.F_SETPIPE_SZ, _LOG_PIPE_SIZE)
        self._process.stdin.write("".join(f"^{sha}\n" for sha in exclude).encode())
        self._process.stdin.close()

    def _token_lists(self) -> Iterator[list[bytes]]:
        """NUL-separated fields, a list per read: what is in the pipe, so parsing starts at once."""
        rest = b""
        while chunk := os.read(self._stdout, _LOG_PIPE_SIZE):
            *tokens, rest = (rest + chunk).split(b"\0")
            yield tokens
        if rest.strip():
            yield [rest]

    def __iter__(self) -> Iterator[CommitChanges]:
        current: CommitChanges | None = None
        header: list[bytes] | None = None  # the fields of a commit line read so far
        meta: list[bytes] | None = None  # a raw diff line whose path comes next
        for tokens in self._token_lists():
            for token in tokens:
                if header is not None:
                    header.append(token)
                    if len(header) < 5:
                        continue
                    sha = header[0].decode()
                    if current is not None and current.sha == sha:
                        current.diffs.append([])  # -m prints the same commit once per differing parent
                    else:
                        if current is not None:
                            yield current
                        parents, name, email, date = (_text(field) for field in header[1:])
                        current = CommitChanges(sha, parents.split(), name, email, date, diffs=[[]])
                    header = None
                elif meta is not None:
                    if current is not None and len(meta) >= 5:
                        current.diffs[-1].append(FileChange(_text(token), meta[2].decode(), meta[3].decode()))
                    meta = None
                else:
                    token = token.lstrip(b"\n")
                    if token.startswith(b"\x01"):
                        header = [token[1:]]
                    elif token.startswith(b":"):
                        meta = token[1:].split()
        if current is not None:
            yield current
        if self._process.wait() != 0:
            self._stderr.seek(0)
            raise GitError(f"git log failed: {_text(self._stderr.read()).strip()}")

    def close(self) -> None:
        """Stop git if the caller left early."""
        if self._process.poll() is None:
            self._process.kill()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process.wait()
        self._stderr.close()

    def __enter__(self) -> "CommitLog":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _tree_entries(data: bytes) -> list[tuple[bool, str, str]]:
    """(is_tree, name, sha) of a raw tree object's subtrees and of the files that may be DVC's.

    A tree is ``<mode> <name>\\0<20-byte sha>`` repeated.
    """
    found: list[tuple[bool, str, str]] = []
    position, end = 0, len(data)
    while position < end:
        space = data.index(b" ", position)
        nul = data.index(b"\0", space)
        mode, name = data[position:space], data[space + 1 : nul]
        if mode == b"40000":
            found.append((True, _text(name), data[nul + 1 : nul + 21].hex()))
        # Submodules and symlinks hold no DVC file content; the suffix test only spares decoding the other names.
        elif mode not in (b"160000", b"120000") and name.endswith(_CANDIDATE_SUFFIXES):
            text = _text(name)
            if is_tracked_path(text) or text == "config":
                found.append((False, text, data[nul + 1 : nul + 21].hex()))
        position = nul + 21
    return found


@functools.cache
def _cat_file_mode() -> list[str]:
    """``--batch-command --buffer`` (git 2.36+) answers a batch in a few large writes, where ``--batch`` makes
    three per object, each waking the reader; older gits get ``--batch``."""
    words = _text(_git(["version"])).split()
    version = tuple(int(part) for part in re.findall(r"\d+", words[2] if len(words) > 2 else "")[:2])
    return ["--batch-command", "--buffer"] if version >= (2, 36) else ["--batch"]


class BlobReader:
    """One long-lived ``git cat-file`` batch process: ask for a blob, get its bytes."""

    def __init__(self, mirror: Path) -> None:
        self._mode = _cat_file_mode()
        self._request = "contents {}\n" if self._mode[0] == "--batch-command" else "{}\n"
        self._flush = b"flush\n" if self._mode[0] == "--batch-command" else b""
        self._process = subprocess.Popen(
            ["git", "cat-file", *self._mode],
            cwd=mirror,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        self.reads = 0

    def read(self, sha: str) -> bytes | None:
        return self.read_many([sha])[sha]

    def read_many(self, shas: list[str]) -> dict[str, bytes | None]:
        """Blob contents (None for a missing object or one that is not a blob)."""
        return {sha: data if kind == "blob" else None for sha, (kind, data) in self.read_objects(shas).items()}

    def read_objects(self, shas: list[str]) -> dict[str, tuple[str, bytes | None]]:
        """Ask in batches small enough to sit in the pipe, so git never waits on us and we never wait per object."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        found: dict[str, tuple[str, bytes | None]] = {}
        readline, read = stdout.readline, stdout.read
        for start in range(0, len(shas), _PIPELINE_BATCH):
            batch = shas[start : start + _PIPELINE_BATCH]
            stdin.write("".join([self._request.format(sha) for sha in batch]).encode() + self._flush)
            stdin.flush()
            for sha in batch:
                header = readline().split()
                if len(header) != 3:  # "<sha> missing"
                    found[sha] = ("missing", None)
                    continue
                found[sha] = (header[1].decode(), read(int(header[2]) + 1)[:-1])  # each object ends with a newline
                self.reads += 1
        return found

    def tracked_files(self, commits: list[str]) -> dict[str, dict[str, str]]:
        """commit → {path: blob} of every DVC file in its tree, reading each distinct tree object once.

        Branch and tag heads share almost all of their trees, so this costs far less than one ``ls-tree -r`` each.
        """
        roots: dict[str, str] = {}
        for commit, (kind, data) in self.read_objects(sorted(set(commits))).items():
            if kind == "commit" and data is not None and data.startswith(b"tree "):
                roots[commit] = data[5:45].decode()
        entries: dict[str, list[tuple[bool, str, str]]] = {}  # tree → (is_tree, name, sha)
        wanted = set(roots.values())
        while wanted:
            level = {
                tree: _tree_entries(data) if kind == "tree" and data is not None else []
                for tree, (kind, data) in self.read_objects(sorted(wanted)).items()
            }
            entries.update(level)
            wanted = {sha for tree_entries in level.values() for is_tree, _n, sha in tree_entries
                      if is_tree and sha not in entries}  # fmt: skip
        memo: dict[str, dict[str, str]] = {}

        def files_under(tree: str) -> dict[str, str]:
            """Every .dvc file and dvc.lock below ``tree``; ``config`` files only count in the root's .dvc/."""
            if tree not in memo:
                found: dict[str, str] = {}
                for is_tree, name, sha in entries.get(tree, []):
                    if is_tree:
                        found.update({f"{name}/{path}": blob for path, blob in files_under(sha).items()})
                    elif name != "config":
                        found[name] = sha
                memo[tree] = found
            return memo[tree]

        def dvc_config(root: str) -> dict[str, str]:
            for is_tree, name, sha in entries.get(root, []):
                if is_tree and name == ".dvc":
                    for is_subtree, file, blob in entries.get(sha, []):
                        if not is_subtree and file == "config":
                            return {CONFIG_PATH: blob}
            return {}

        return {commit: {**files_under(tree), **dvc_config(tree)} for commit, tree in roots.items()}

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process.wait(timeout=30)

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
