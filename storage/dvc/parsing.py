"""Parsers for the files DVC commits to git: ``*.dvc``, ``dvc.lock`` and ``.dvc/config``.

Each takes the file's bytes and the path it was committed at, returns plain data, and raises
``DvcFileError`` with a readable reason for anything it cannot trust; the indexer records that as a
warning and carries on.
"""

import functools
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from storage.dvc import mini_yaml
from storage.dvc.layout import DIR_SUFFIX, Layout, is_md5, object_key

# libyaml's parser when present: the pure-Python one dominates indexing time on long histories.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CONFIG_PATH = ".dvc/config"
LOCK_NAME = "dvc.lock"
DVC_SUFFIX = ".dvc"


class DvcFileError(ValueError):
    pass


@dataclass(frozen=True)
class DvcOutput:
    path: str  # relative to the repository root, '/'-separated
    md5: str  # 32 hex digits, without the ".dir" suffix
    is_dir: bool
    hash_name: str  # "md5" for DVC 3 outputs; "" for DVC 2 ones
    size: int | None = None
    nfiles: int | None = None
    cache: bool = True
    remote: str = ""
    stage: str = ""

    @property
    def layout(self) -> Layout:
        return Layout.DVC3 if self.hash_name == "md5" else Layout.DVC2

    @property
    def key(self) -> str:
        return object_key(self.md5, is_dir=self.is_dir, layout=self.layout)

    @property
    def identity(self) -> tuple[str, str, str, bool, str]:
        """What makes two committed outputs 'the same' when comparing a commit with its parents."""
        return (self.stage, self.path, self.md5, self.is_dir, self.hash_name)


@dataclass(frozen=True)
class DvcImportDep:
    path: str  # the imported output's path in this repository
    source_path: str  # path inside the source repository
    url: str
    rev: str = ""
    rev_lock: str = ""


@dataclass
class DvcFileContent:
    outputs: list[DvcOutput] = field(default_factory=list)
    imports: list[DvcImportDep] = field(default_factory=list)


@dataclass(frozen=True)
class DvcConfig:
    remotes: dict[str, str]  # name → url
    default_remote: str


def is_tracked_path(path: str) -> bool:
    name = posixpath.basename(path)
    return path == CONFIG_PATH or name == LOCK_NAME or (name.endswith(DVC_SUFFIX) and name != DVC_SUFFIX)


# Exactly what ``dvc add`` writes for one output; most .dvc files in any history look like this.
_CANONICAL_DVC = re.compile(
    r"outs:\n- md5: (?P<md5>[0-9a-f]{32}(?:\.dir)?)\n  size: (?P<size>0|[1-9][0-9]*)\n"
    r"(?:  nfiles: (?P<nfiles>0|[1-9][0-9]*)\n)?(?:  (?P<hash>hash: md5)\n)?  path: (?P<path>[^\n]+)\n"
)


def _canonical_dvc(text: str) -> dict[str, Any] | None:
    match = _CANONICAL_DVC.fullmatch(text)
    if match is None or not mini_yaml.plain_string(match["path"]):
        return None
    output: dict[str, Any] = {"md5": match["md5"], "size": int(match["size"])}
    if match["nfiles"] is not None:
        output["nfiles"] = int(match["nfiles"])
    if match["hash"]:
        output["hash"] = "md5"
    output["path"] = match["path"]
    return {"outs": [output]}


def _load_yaml(content: bytes, source_path: str) -> Any:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    fast = None if text is None else _canonical_dvc(text) or mini_yaml.load(text)
    if fast is not None:
        return fast
    try:
        return yaml.load(content, Loader=_Loader)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DvcFileError(f"{source_path}: not valid YAML ({reason})") from error
    except UnicodeDecodeError as error:
        raise DvcFileError(f"{source_path}: not UTF-8 text") from error


def _resolve(base_dir: str, path: str) -> str:
    # External outputs (s3://…, /abs/path) stay as written; repository paths become root-relative.
    if "://" in path or path.startswith("/"):
        return path
    return posixpath.normpath(posixpath.join(base_dir, path)) if base_dir else posixpath.normpath(path)


def _optional_int(entry: dict[str, Any], name: str, where: str) -> int | None:
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DvcFileError(f"{where}: '{name}' must be a non-negative integer, got {value!r}")
    return value


def _output(entry: Any, *, base_dir: str, stage: str, where: str) -> DvcOutput | None:
    """One entry of an ``outs`` list; None for entries that carry no md5 (e.g. cloud-versioned or etag outputs)."""
    if not isinstance(entry, dict):
        raise DvcFileError(f"{where}: each output must be a mapping, got {type(entry).__name__}")
    path = entry.get("path")
    if not isinstance(path, str) or not path:
        raise DvcFileError(f"{where}: an output has no 'path'")
    raw_md5 = entry.get("md5")
    if raw_md5 is None:
        return None
    if not isinstance(raw_md5, str):
        raise DvcFileError(f"{where}: output '{path}' has md5 {raw_md5!r}, not a hex string")
    is_dir = raw_md5.endswith(DIR_SUFFIX)
    md5 = raw_md5[: -len(DIR_SUFFIX)] if is_dir else raw_md5
    if not is_md5(md5):
        raise DvcFileError(f"{where}: output '{path}' has md5 '{raw_md5}', not 32 hex digits")
    hash_name = entry.get("hash", "")
    if hash_name not in ("", "md5"):
        raise DvcFileError(f"{where}: output '{path}' uses unknown hash '{hash_name}'")
    cache = entry.get("cache", True)
    remote = entry.get("remote", "")
    if not isinstance(cache, bool) or not isinstance(remote, str):
        raise DvcFileError(f"{where}: output '{path}' has a malformed 'cache' or 'remote'")
    return DvcOutput(
        path=_resolve(base_dir, path),
        md5=md5,
        is_dir=is_dir,
        hash_name=hash_name,
        size=_optional_int(entry, "size", where),
        nfiles=_optional_int(entry, "nfiles", where),
        cache=cache,
        remote=remote,
        stage=stage,
    )


def _outputs(raw: Any, *, base_dir: str, stage: str, where: str) -> list[DvcOutput]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise DvcFileError(f"{where}: 'outs' must be a list")
    outputs = [_output(entry, base_dir=base_dir, stage=stage, where=where) for entry in raw]
    return [output for output in outputs if output is not None]


def parse_dvc_file(content: bytes, source_path: str) -> DvcFileContent:
    """A ``.dvc`` file written by ``dvc add`` or ``dvc import`` (DVC 1 to 3)."""
    canonical = _canonical_dvc_output(content, source_path)
    if canonical is not None:
        return DvcFileContent(outputs=[canonical])
    return _dvc_file_content(_load_yaml(content, source_path), source_path)


def _canonical_dvc_output(content: bytes, source_path: str) -> DvcOutput | None:
    """The output of a canonical ``dvc add`` file, built straight from the match rather than through a mapping.

    Most files of a long history have this shape, so this skips the generic walk over ``outs``; what it returns
    is exactly what ``_dvc_file_content`` builds from ``_canonical_dvc``'s mapping.
    """
    try:
        match = _CANONICAL_DVC.fullmatch(content.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if match is None:
        return None
    path = _canonical_output_path(posixpath.dirname(source_path), match["path"])
    if path is None:
        return None
    raw_md5, nfiles = match["md5"], match["nfiles"]
    return DvcOutput(
        path=path,
        md5=raw_md5.removesuffix(DIR_SUFFIX),
        is_dir=raw_md5.endswith(DIR_SUFFIX),
        hash_name="md5" if match["hash"] else "",
        size=int(match["size"]),
        nfiles=None if nfiles is None else int(nfiles),
    )


@functools.lru_cache(maxsize=16384)
def _canonical_output_path(source_dir: str, path: str) -> str | None:
    """Root-relative output path of a ``.dvc`` file in ``source_dir`` (no ``wdir``); None if YAML reads it otherwise.

    Cached: the same few paths recur in every version of a file across the history.
    """
    if not mini_yaml.plain_string(path):
        return None
    return _resolve(_base_dir(source_dir, "."), path)


def _base_dir(source_dir: str, wdir: str) -> str:
    base_dir = posixpath.normpath(posixpath.join(source_dir, wdir))
    return "" if base_dir == "." else base_dir


def _dvc_file_content(data: Any, source_path: str) -> DvcFileContent:
    if not isinstance(data, dict):
        raise DvcFileError(f"{source_path}: expected a mapping with 'outs'")
    wdir = data.get("wdir", ".")
    if not isinstance(wdir, str):
        raise DvcFileError(f"{source_path}: 'wdir' must be a path")
    base_dir = _base_dir(posixpath.dirname(source_path), wdir)
    outputs = _outputs(data.get("outs"), base_dir=base_dir, stage="", where=source_path)
    imports: list[DvcImportDep] = []
    deps = data.get("deps") or []
    if not isinstance(deps, list):
        raise DvcFileError(f"{source_path}: 'deps' must be a list")
    for dep in deps:
        repo = dep.get("repo") if isinstance(dep, dict) else None
        if not isinstance(repo, dict):
            continue  # a plain dependency or an import-url: no repository to point at
        url = repo.get("url")
        if not isinstance(url, str) or not url:
            raise DvcFileError(f"{source_path}: an import has no repository 'url'")
        for output in outputs:
            imports.append(
                DvcImportDep(
                    path=output.path,
                    source_path=str(dep.get("path", "")),
                    url=url,
                    rev=str(repo.get("rev") or ""),
                    rev_lock=str(repo.get("rev_lock") or ""),
                )
            )
    return DvcFileContent(outputs=outputs, imports=imports)


def parse_dvc_lock(content: bytes, source_path: str) -> DvcFileContent:
    """``dvc.lock``: ``schema: '2.0'`` with ``stages: {name: {outs: […]}}``, or the DVC 1 form (stages at top level)."""
    by_stage = _lock_outputs_by_stage(content, source_path)
    if by_stage is not None:
        return DvcFileContent(outputs=by_stage)
    return _dvc_lock_content(_load_yaml(content, source_path), source_path)


def _dvc_lock_content(data: Any, source_path: str) -> DvcFileContent:
    if data is None:
        return DvcFileContent()
    if not isinstance(data, dict):
        raise DvcFileError(f"{source_path}: expected a mapping of stages")
    if "schema" in data:
        if str(data["schema"]) != "2.0":
            raise DvcFileError(f"{source_path}: unsupported dvc.lock schema '{data['schema']}'")
        stages = data.get("stages") or {}
    else:
        stages = data
    if not isinstance(stages, dict):
        raise DvcFileError(f"{source_path}: 'stages' must be a mapping")
    base_dir = posixpath.dirname(source_path)
    outputs: list[DvcOutput] = []
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise DvcFileError(f"{source_path}: stage '{name}' must be a mapping")
        outputs.extend(_outputs(stage.get("outs"), base_dir=base_dir, stage=str(name), where=f"{source_path}:{name}"))
    return DvcFileContent(outputs=outputs)


_LOCK_HEAD = "schema: '2.0'\nstages:\n"
_STAGE_START = re.compile(r"^  (?=[^ \n])", re.MULTILINE)  # a line indented by exactly two spaces: a stage's name


def _lock_outputs_by_stage(content: bytes, source_path: str) -> list[DvcOutput] | None:
    """A DVC 2/3 ``dvc.lock`` read one stage block at a time, each block's outputs cached by its text.

    A commit usually changes one stage of a long file, so the other stages cost a lookup. Each block is read
    alone by the strict YAML subset reader, which reads it exactly as it reads it inside the whole document; any
    block it declines, or a stage named twice, returns None and the whole file is read the ordinary way.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.startswith(_LOCK_HEAD):
        return None
    body = text[len(_LOCK_HEAD) :]
    if not body:
        return []
    starts = [match.start() for match in _STAGE_START.finditer(body)]
    if not starts or starts[0] != 0:
        return None
    stages: list[tuple[str, tuple[DvcOutput, ...] | str]] = []
    for start, end in zip(starts, [*starts[1:], len(body)], strict=True):
        stage = _lock_stage(body[start:end], source_path)
        if stage is None:
            return None
        stages.append(stage)
    if len({name for name, _outputs in stages}) != len(stages):
        return None
    outputs: list[DvcOutput] = []
    for _name, stage_outputs in stages:
        if isinstance(stage_outputs, str):
            raise DvcFileError(stage_outputs)  # the first invalid stage, as the whole-file reading reports it
        outputs.extend(stage_outputs)
    return outputs


@functools.lru_cache(maxsize=4096)
def _lock_stage(block: str, source_path: str) -> tuple[str, tuple[DvcOutput, ...] | str] | None:
    """(stage name, its outputs or the error they raise) of one ``  name:`` block; None outside the subset."""
    data = mini_yaml.load(block)
    if not isinstance(data, dict) or len(data) != 1:
        return None
    [(name, stage)] = data.items()
    if not isinstance(stage, dict):
        return name, f"{source_path}: stage '{name}' must be a mapping"
    try:
        outputs = _outputs(stage.get("outs"), base_dir=posixpath.dirname(source_path), stage=str(name),
                           where=f"{source_path}:{name}")  # fmt: skip
    except DvcFileError as error:
        return name, str(error)
    return name, tuple(outputs)


_SECTION = re.compile(r"^\[\s*(?P<name>.+?)\s*\]$")
_REMOTE_SECTION = re.compile(r"""^'?remote\s+"(?P<name>[^"]+)"'?$""")


def parse_dvc_config(content: bytes, source_path: str = CONFIG_PATH) -> DvcConfig:
    """``.dvc/config`` as DVC writes it (configobj): ``[core]`` ``remote = x`` and ``['remote "x"']`` ``url = …``."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DvcFileError(f"{source_path}: not UTF-8 text") from error
    remotes: dict[str, str] = {}
    default = ""
    section = ""
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line[0] in "#;":
            continue
        header = _SECTION.fullmatch(line)
        if header is not None:
            section = header.group("name")
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise DvcFileError(f"{source_path}:{number}: expected 'key = value', got {line!r}")
        key, value = key.strip(), value.strip().strip("'\"")
        remote = _REMOTE_SECTION.fullmatch(section)
        if remote is not None and key == "url":
            remotes[remote.group("name")] = value
        elif section == "core" and key == "remote":
            default = value
    return DvcConfig(remotes=remotes, default_remote=default)


def parse_tracked_file(content: bytes, source_path: str) -> DvcFileContent:
    """Outputs and imports of a ``.dvc`` file or ``dvc.lock``, chosen by its name."""
    if posixpath.basename(source_path) == LOCK_NAME:
        return parse_dvc_lock(content, source_path)
    return parse_dvc_file(content, source_path)
