"""The real ``dvc`` tools, 3 and 2, from their own virtual environments (``make dvc-tool``; ``make test``
installs them), and DVC's own garbage collector as the judge of what every object in a remote is.

What ``dvc gc --cloud --all-commits --all-experiments`` keeps is what some commit references (an experiment's
commit under ``refs/exps/`` too: Kura indexes every ref); what ``dvc gc --cloud --all-branches --all-tags`` keeps is
what a branch or tag head references. Kura's live, historical and unreferenced must be
exactly those sets, found without running DVC.
"""

import shutil
import subprocess
from pathlib import Path

from storage.dvc.decode import ObjectClass
from tests.dvc_builders import GitRepo
from tests.real_tools import PROJECT_DIR, installed_tool


def dvc_executable(major: int = 3) -> Path:
    """The DVC ``major`` tool ``make test`` names (KURA_TEST_DVC, KURA_TEST_DVC2)."""
    suffix = "" if major == 3 else str(major)
    default = PROJECT_DIR / ".venv" / f"dvc{suffix}-tool" / "bin" / "dvc"
    return installed_tool(f"KURA_TEST_DVC{suffix}", default, "dvc-tool")


class DvcProject(GitRepo):
    """A git repository that the real ``dvc`` initialises, adds to, reproduces and pushes."""

    def __init__(self, path: Path, tool: Path, *, remote: Path) -> None:
        super().__init__(path)
        self.tool = tool
        self.home = path.parent / f".{path.name}-home"  # dvc's user config and caches, outside the repository
        self.home.mkdir()
        self.dvc("init", "--quiet")
        self.dvc("config", "core.analytics", "false")
        self.dvc("remote", "add", "--default", "store", str(remote))

    def dvc(self, *args: str, author: str = "Alice Able", date: str = "2024-01-01T10:00:00+00:00") -> str:
        env = {**self.env(author, date), "HOME": str(self.home), "DVC_NO_ANALYTICS": "1",
               "DVC_SITE_CACHE_DIR": str(self.home / "site-cache")}
        done = subprocess.run([str(self.tool), *args], cwd=self.path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def write_bytes(self, relpath: str, data: bytes) -> None:
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def remote_keys(remote: Path) -> set[str]:
    return {path.relative_to(remote).as_posix() for path in remote.rglob("*") if path.is_file()}


def classes_by_dvc_gc(projects: list[DvcProject], remote: Path, scratch: Path) -> dict[str, ObjectClass]:
    """Every object of ``remote``, shared by ``projects``, classified by what DVC's gc in each project keeps of a
    copy of it: referenced or live if any project keeps it so (the run cache, which gc does not judge, by its
    prefix). The projects' local caches are collected too: call this last."""
    kept: dict[str, set[str]] = {"referenced": set(), "live": set()}
    for project in projects:
        for name, scope in (("referenced", ["--all-commits", "--all-experiments"]),
                            ("live", ["--all-branches", "--all-tags"])):
            copy = scratch / f"gc-{project.path.name}-{name}"
            shutil.copytree(remote, copy)
            project.dvc("remote", "add", "--local", "--force", f"gc-{name}", str(copy))
            project.dvc("gc", "--force", "--cloud", "--remote", f"gc-{name}", *scope)
            kept[name] |= remote_keys(copy)
    classes: dict[str, ObjectClass] = {}
    for key in remote_keys(remote):
        if key.startswith("runs/"):
            classes[key] = ObjectClass.RUN_CACHE
        elif key in kept["live"]:
            classes[key] = ObjectClass.LIVE
        elif key in kept["referenced"]:
            classes[key] = ObjectClass.HISTORICAL
        else:
            classes[key] = ObjectClass.UNREFERENCED
    return classes
