"""The DVC file formats and remote key layout, read exactly as DVC writes them."""

import json

import pytest
import yaml

from storage.dvc import mini_yaml
from storage.dvc.layout import (
    KeyKind,
    Layout,
    ManifestError,
    ObjectId,
    key_kind,
    object_key,
    parse_dir_manifest,
    parse_hash_or_key,
    parse_object_key,
)
from storage.dvc.parsing import (
    DvcFileError,
    DvcImportDep,
    DvcOutput,
    _canonical_dvc,
    _dvc_file_content,
    _dvc_lock_content,
    _load_yaml,
    is_tracked_path,
    parse_dvc_config,
    parse_dvc_file,
    parse_dvc_lock,
)
from tests.dvc_builders import LOCK_LEGACY, LOCK_V2, dir_object, dvc_file

MD5 = "22a1a2931c8370d3aeedd7183606fd7f"
DIR_MD5 = "b8f4d5a78e55e88906d5f4aeaf43802e"


def test_dvc3_file_output():
    content = parse_dvc_file(dvc_file(MD5, 14445097, "data.xml").encode(), "data/data.xml.dvc")
    assert content.outputs == [DvcOutput(path="data/data.xml", md5=MD5, is_dir=False, hash_name="md5", size=14445097)]
    assert content.outputs[0].layout == Layout.DVC3
    assert content.outputs[0].key == f"files/md5/22/{MD5[2:]}"


def test_dvc2_directory_output():
    content = parse_dvc_file(dvc_file(DIR_MD5, 7011, "images", dvc3=False, nfiles=3).encode(), "images.dvc")
    assert content.outputs == [DvcOutput(path="images", md5=DIR_MD5, is_dir=True, hash_name="", size=7011, nfiles=3)]
    assert content.outputs[0].key == f"b8/{DIR_MD5[2:]}.dir"


def test_per_output_remote_cache_flag_and_wdir():
    text = f"wdir: ..\nouts:\n- md5: {MD5}\n  path: out.bin\n  cache: false\n  remote: archive\n"
    [output] = parse_dvc_file(text.encode(), "stages/sub/x.dvc").outputs
    assert (output.path, output.cache, output.remote) == ("stages/out.bin", False, "archive")


def test_import_deps_point_at_the_source_repository():
    text = (
        "md5: 0f6bd8d6c1e2d18a5a1f0e0ac7e2a34b\nfrozen: true\ndeps:\n- path: data/data.xml\n  repo:\n"
        "    url: https://github.com/iterative/dataset-registry\n    rev: main\n"
        "    rev_lock: f31f5c4cdae787b4bdeb97a717687d44667d9e62\n"
        f"outs:\n- md5: {MD5}\n  size: 10\n  hash: md5\n  path: data.xml\n"
    )
    content = parse_dvc_file(text.encode(), "data.xml.dvc")
    assert content.imports == [
        DvcImportDep(
            path="data.xml", source_path="data/data.xml", url="https://github.com/iterative/dataset-registry",
            rev="main", rev_lock="f31f5c4cdae787b4bdeb97a717687d44667d9e62",
        )
    ]  # fmt: skip


def test_dvc_lock_schema_2_outputs_with_stage_names():
    text = LOCK_V2.format(images=DIR_MD5, images_size=1, images_nfiles=1, model=MD5, model_size=5,
                          metrics="a" * 32, metrics_size=2)
    outputs = parse_dvc_lock(text.encode(), "dvc.lock").outputs
    assert [(o.stage, o.path, o.md5, o.hash_name, o.cache) for o in outputs] == [
        ("train", "model.pkl", MD5, "md5", True),
        ("train", "metrics.json", "a" * 32, "md5", False),
    ]


def test_legacy_dvc_lock_without_schema():
    outputs = parse_dvc_lock(LOCK_LEGACY.format(prepared=DIR_MD5).encode(), "pipe/dvc.lock").outputs
    assert outputs == [DvcOutput(path="pipe/prepared", md5=DIR_MD5, is_dir=True, hash_name="", stage="prepare")]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("outs:\n- md5: [x\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        ("outs:\n- md5: abc\n  path: x\n", "not 32 hex digits"),
        ("outs:\n- md5: " + MD5 + "\n", "no 'path'"),
        ("outs:\n- md5: " + MD5 + "\n  path: x\n  size: -1\n", "non-negative integer"),
        ("outs:\n- md5: " + MD5 + "\n  path: x\n  hash: sha256\n", "unknown hash"),
        ("outs: {a: 1}\n", "'outs' must be a list"),
        (b"outs:\n- path: \xff\n", "not valid YAML"),
    ],
)
def test_malformed_dvc_files_raise_a_readable_error(text, reason):
    raw = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(DvcFileError, match=reason):
        parse_dvc_file(raw, "x.dvc")


def test_unknown_lock_schema_is_refused():
    with pytest.raises(DvcFileError, match=r"unsupported dvc\.lock schema '3\.0'"):
        parse_dvc_lock(b"schema: '3.0'\nstages: {}\n", "dvc.lock")


def test_dvc_config_remotes_and_default():
    text = (
        "[core]\n    remote = s3store\n    autostage = true\n"
        "['remote \"s3store\"']\n    url = s3://bucket/dvc\n    endpointurl = http://minio:9000\n"
        "['remote \"nas\"']\n    url = /mnt/nas/dvc\n# comment\n"
    )
    config = parse_dvc_config(text.encode())
    assert config.remotes == {"s3store": "s3://bucket/dvc", "nas": "/mnt/nas/dvc"}
    assert config.default_remote == "s3store"
    with pytest.raises(DvcFileError, match="expected 'key = value'"):
        parse_dvc_config(b"[core]\nremote\n")


def test_tracked_paths():
    assert [is_tracked_path(p) for p in ("a/b.dvc", ".dvc", "dvc.lock", "x/dvc.lock", ".dvc/config", "dvc.yaml")] == [
        True, False, True, True, True, False
    ]


def test_remote_keys_in_both_layouts():
    assert object_key(MD5, is_dir=False, layout=Layout.DVC3) == f"files/md5/22/{MD5[2:]}"
    assert object_key(DIR_MD5, is_dir=True, layout=Layout.DVC2) == f"b8/{DIR_MD5[2:]}.dir"
    assert parse_object_key(f"files/md5/22/{MD5[2:]}") == ObjectId(MD5, False, Layout.DVC3)
    assert parse_object_key(f"b8/{DIR_MD5[2:]}.dir") == ObjectId(DIR_MD5, True, Layout.DVC2)
    assert parse_object_key("runs/ab/cd/ef") is None
    assert parse_hash_or_key(f"md5:{MD5.upper()}") == ObjectId(MD5, False, None)
    assert parse_hash_or_key(f"{DIR_MD5}.dir") == ObjectId(DIR_MD5, True, None)
    assert parse_hash_or_key("not-a-hash") is None
    kinds = [key_kind(k) for k in (f"22/{MD5[2:]}", "runs/ab/cdef/x", "files/md5/12/345.tmp", "README")]
    assert kinds == [KeyKind.OBJECT, KeyKind.RUN_CACHE, KeyKind.TEMPORARY, KeyKind.OTHER]


def test_a_pasted_key_may_carry_the_remote_it_was_copied_from():
    # What scans show and the unreferenced report lists: the object's full URI, not the key below the remote's root.
    assert parse_hash_or_key(f"s3://ml-store/dvc/files/md5/22/{MD5[2:]}") == ObjectId(MD5, False, Layout.DVC3)
    assert parse_hash_or_key(f"file:///mnt/nas/remote/b8/{DIR_MD5[2:]}.dir") == ObjectId(DIR_MD5, True, Layout.DVC2)
    assert parse_hash_or_key(f"dvc/files/md5/22/{MD5[2:]}/") == ObjectId(MD5, False, Layout.DVC3)
    assert parse_hash_or_key(f"store/x22/{MD5[2:]}") is None  # 'x22' is no hash directory
    assert parse_hash_or_key(f"files/md5/22/{MD5[2:]}.tmp") is None


def test_dir_manifest_reader_takes_bytes():
    directory = dir_object({"b.jpg": b"b", "sub/a.jpg": b"a"})
    entries = parse_dir_manifest(directory.manifest)
    assert [(e.relpath, e.md5) for e in entries] == [
        ("b.jpg", "92eb5ffee6ae2fec3ad71c777531578f"), ("sub/a.jpg", "0cc175b9c0f1b6a831c399e269772661")
    ]
    for bad in (b"{}", b"[1]", b"not json", json.dumps([{"md5": "x", "relpath": "a"}]).encode()):
        with pytest.raises(ManifestError):
            parse_dir_manifest(bad)


SAMPLES_IN_SUBSET = [
    LOCK_V2.format(images=DIR_MD5, images_size=1, images_nfiles=2, model=MD5, model_size=3, metrics="c" * 32,
                   metrics_size=4),
    LOCK_LEGACY.format(prepared=DIR_MD5),
    dvc_file(MD5, 10, "x y.csv"),
    dvc_file("1234e5" + "f" * 26, 10, "images", nfiles=3, dvc3=False),
    "outs:\n  - md5: x\n    path: y\n    cache: false\n",
    "a:\n  b:\n  - 1\n  - 2\n  c: 0.5\nd: 'it''s'\n# comment\n",
    "stages:\n  s:\n    params:\n      params.yaml:\n        prepare.seed: 20170428\n        prepare.split: 0.2\n",
    "a: 1e5\nb: null\nc:\n",
]
SAMPLES_OUTSIDE = [
    "x: [1, 2]\n", "x: yes\n", "meta:\n  k: v # c\n", "p: 1:30\n", "a: 01\n", "a: 0x1F\n", "a: |\n  text\n",
    "a: &x 1\nb: *x\n", 'a: "quoted\\n"\n', "a:\tb\n", "---\na: 1\n", "a: 1\na: 2\n", "a: b: c\n",
    "a:\n   b: 1\n  c: 2\n",
]  # fmt: skip


@pytest.mark.parametrize("text", SAMPLES_IN_SUBSET)
def test_fast_yaml_reader_agrees_with_pyyaml(text):
    assert mini_yaml.load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("text", SAMPLES_OUTSIDE)
def test_fast_yaml_reader_declines_what_it_does_not_fully_understand(text):
    assert mini_yaml.load(text) is None


@pytest.mark.parametrize("path", ["data.xml", "images", "données/échantillon.csv", "a b/c.bin", "v1.2"])
@pytest.mark.parametrize(("dvc3", "nfiles"), [(True, None), (False, None), (True, 3), (False, 2)])
def test_canonical_dvc_add_output_fast_path_agrees_with_pyyaml(path, dvc3, nfiles):
    text = dvc_file(DIR_MD5 if nfiles else MD5, 123, path, dvc3=dvc3, nfiles=nfiles)
    assert _canonical_dvc(text) == yaml.safe_load(text)


@pytest.mark.parametrize("path", ["yes", "123", "a: b", "x #y", "'quoted'", "[list]", "null", "1:30"])
def test_canonical_fast_path_leaves_paths_yaml_would_read_differently(path):
    assert _canonical_dvc(dvc_file(MD5, 1, path)) is None


@pytest.mark.parametrize("source_path", ["x.dvc", "data/x.dvc", "a/b/../c/x.dvc"])
@pytest.mark.parametrize("path", ["data.xml", "../up.bin", "./images", "s3://bucket/key", "/abs/file", "yes"])
@pytest.mark.parametrize(("dvc3", "nfiles"), [(True, None), (False, 2)])
def test_canonical_dvc_file_reads_as_the_generic_path_would(source_path, path, dvc3, nfiles):
    text = dvc_file(DIR_MD5 if nfiles else MD5, 123, path, dvc3=dvc3, nfiles=nfiles)
    fast = _outcome(lambda: parse_dvc_file(text.encode(), source_path))
    assert fast == _outcome(lambda: _dvc_file_content(yaml.safe_load(text), source_path))


@pytest.mark.parametrize(
    "value", [MD5, DIR_MD5, "1234e5" + "f" * 26, "0b1", "0b101", "0b1f", "0b", "1e5", "00ff", "ff", "f", "deadbeef"]
)
def test_fast_yaml_reader_reads_hash_like_scalars_as_pyyaml_does(value):
    text = f"md5: {value}\n"
    fast = mini_yaml.load(text)
    assert fast is None or (fast == yaml.safe_load(text) and type(fast["md5"]) is type(yaml.safe_load(text)["md5"]))


def _outcome(parse):
    try:
        return parse()
    except DvcFileError as error:
        return str(error)


_STAGE = "  {name}:\n    cmd: python {name}.py\n    outs:\n    - path: {path}\n      hash: md5\n      md5: {md5}\n"
LOCKS_READ_BY_STAGE = [
    "schema: '2.0'\nstages:\n",
    "schema: '2.0'\nstages:\n" + _STAGE.format(name="a", path="a.bin", md5=MD5)
    + _STAGE.format(name="b", path="../b.bin", md5=DIR_MD5 + ".dir"),
    # Invalid stages: the first one in file order is the error reported.
    "schema: '2.0'\nstages:\n" + _STAGE.format(name="a", path="a.bin", md5="nothex")
    + _STAGE.format(name="b", path="b.bin", md5="alsobad"),
    "schema: '2.0'\nstages:\n  a: just text\n" + _STAGE.format(name="b", path="b.bin", md5=MD5),
    "schema: '2.0'\nstages:\n  a:\n" + _STAGE.format(name="b", path="b.bin", md5=MD5),
    # Outside what a stage block can be read alone: the whole file is read instead, with the same result.
    "schema: '2.0'\nstages:\n" + _STAGE.format(name="a", path="a.bin", md5=MD5) * 2,
    "schema: '2.0'\nstages:\n" + _STAGE.format(name="a", path="a.bin", md5=MD5) + "extra: 1\n",
    "schema: '2.0'\nstages:\n  # a comment\n" + _STAGE.format(name="a", path="a.bin", md5=MD5),
    "schema: '2.0'\nstages:\n" + _STAGE.format(name="a", path="a.bin", md5=MD5) + "   odd: indent\n",
    "schema: '2.0'\nstages:\n" + _STAGE.format(name="a", path="a.bin", md5=MD5).replace("cmd:", "cmd: [x]\n    c:"),
    "schema: '2.0'\nstages:\n" + _STAGE.format(name="a", path="yes", md5=MD5),
    "schema: '2.0'\nstages:\n\n" + _STAGE.format(name="a", path="a.bin", md5=MD5),
]


@pytest.mark.parametrize("text", LOCKS_READ_BY_STAGE)
@pytest.mark.parametrize("source_path", ["dvc.lock", "pipelines/p/dvc.lock"])
def test_dvc_lock_read_by_stage_agrees_with_the_whole_file(text, source_path):
    by_stage = _outcome(lambda: parse_dvc_lock(text.encode(), source_path))
    assert by_stage == _outcome(lambda: _dvc_lock_content(_load_yaml(text.encode(), source_path), source_path))
    assert by_stage == _outcome(lambda: parse_dvc_lock(text.encode(), source_path))  # again, from the cache
