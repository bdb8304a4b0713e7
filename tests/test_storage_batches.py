"""Listing in batches counts exactly what listing object by object counted: order, resuming, totals."""

import os
import random
from collections import Counter

import pytest

from catalog.services import LocationSpec
from storage.aggregation import MAX_OWNERS, SAMPLE_KEYS, Totals, batch_figures
from storage.listers.base import ListedObject, ListingError, ObjectBatch, batched, dvc_like_count, looks_like_dvc
from storage.listers.local import LocalLister
from storage.listers.s3 import ShardSpec
from storage.models import Finding, ScanAggregate
from tests.factories import make_dataset
from tests.storage_support import make_local_connection, scan

HEX30 = "0123456789abcdef0123456789abcd"


@pytest.fixture
def tree(storage_settings, tmp_path):
    """Files and folders whose names sort around '/' ('-' < '.' < '/' < '0'), an empty folder, a symlink,
    non-ASCII and undecodable names."""
    root = tmp_path / "mnt" / "tree"
    files = ["ab.c", "a-b", "a.b", "a/x", "a/y/z", "a/y-", "a0", "a-/q", "b/c/d/e", "b/c/d.f", "b/c-", "é/ü",
             "ab/" + HEX30, "files/md5/ab/" + HEX30 + ".dir"]
    for index, name in enumerate(files):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"k" * (index + 1))
    (root / "empty").mkdir()
    os.symlink(root / "a-b", root / "a-link")
    raw = os.fsencode(root) + b"/b/caf\xe9/\xff.bin"
    os.makedirs(os.path.dirname(raw))
    with open(raw, "wb") as handle:
        handle.write(b"xyz")
    return root


def _keys(lister: LocalLister, root: str, start_after: str) -> list[str]:
    return [item.key for item in lister.iter_objects(root, ShardSpec(""), start_after)]


def test_the_local_walk_is_in_key_order_and_resumes_after_any_key(tree):
    lister = LocalLister()
    everything = _keys(lister, str(tree), "")
    assert everything == sorted(everything)
    assert "b/caf\\xe9/\\xff.bin" in everything and "é/ü" in everything and "a-link" not in everything
    assert len(everything) == 15
    # After every key, the undecodable one too: the walk goes in the order of the escaped keys it stores.
    for start_after in [*everything, "a/", "a/y", "a/y/", "b/", "b/c/d/", "b/caf\\", "zz", "0"]:
        assert _keys(lister, str(tree), start_after) == [key for key in everything if key > start_after], start_after


def test_a_top_level_directory_with_an_undecodable_name_is_its_own_shard(tree):
    raw = os.fsencode(tree) + b"/caf\xe9-top"
    os.makedirs(raw)
    with open(raw + b"/x.bin", "wb") as handle:
        handle.write(b"12345")
    lister = LocalLister()

    shard = next(spec for spec in lister.shards(str(tree)) if spec.prefix.startswith("caf"))
    keys = [item.key for item in lister.iter_objects(str(tree), shard, "")]

    assert shard.prefix == "caf\\xe9-top/"
    assert keys == ["caf\\xe9-top/x.bin"]
    assert [item.key for item in lister.iter_objects(str(tree), shard, keys[0])] == []


def test_batches_hold_one_directory_each_and_flatten_to_the_object_listing(tree):
    lister = LocalLister()
    objects = list(lister.iter_objects(str(tree), ShardSpec(""), ""))
    batches = list(lister.iter_batches(str(tree), ShardSpec(""), "", limit=2))
    assert [item for batch in batches for item in batch.objects()] == objects
    for batch in batches:
        assert 1 <= len(batch.names) <= 2 and all("/" not in name for name in batch.names)
        assert batch.position == batch.directory + batch.names[-1]
    top = list(lister.iter_batches(str(tree), ShardSpec("", top_level_only=True), "a-b", limit=10))
    assert [(batch.directory, batch.names) for batch in top] == [("", ["a.b", "a0", "ab.c"])]


def test_batched_groups_rows_by_directory_and_keeps_inventory_positions():
    rows = [ListedObject("a/1", 1, 5.0, "ann", "001"), ListedObject("", 0, None, position="002"),
            ListedObject("a/2", 2, None, "bob", "003"), ListedObject("a/3", 3, 1.0, "", "004"),
            ListedObject("b/c/4", 4, 2.0, "ann", "005"), ListedObject("top", 5, 3.0), ListedObject("", 0, None,
                                                                                                 position="007")]
    batches = list(batched(rows, limit=2))
    assert batches == [
        ObjectBatch("a/", ["1", "2"], [1, 2], [5.0, None], ["ann", "bob"], "003"),
        ObjectBatch("a/", ["3"], [3], [1.0], [""], "004"),
        ObjectBatch("b/c/", ["4"], [4], [2.0], ["ann"], "005"),
        ObjectBatch("", ["top"], [5], [3.0], [""], "007"),
    ]
    assert list(batched([ListedObject("", 0, None, position="009")], limit=2)) == [
        ObjectBatch("", [], [], [], [], "009")]


def test_a_failing_listing_still_hands_over_what_it_listed_before():
    def listing():
        yield ListedObject("a/1", 1, 1.0)
        yield ListedObject("a/2", 2, 1.0)
        raise ListingError("gone", code="listing_failed", permanent=False)

    batches = batched(listing(), limit=10)
    assert next(batches) == ObjectBatch("a/", ["1", "2"], [1, 2], [1.0, 1.0], ["", ""], "a/2")
    with pytest.raises(ListingError):
        next(batches)


def test_dvc_like_count_agrees_with_looks_like_dvc():
    names = [HEX30, HEX30 + ".dir", HEX30 + "0", HEX30.upper(), HEX30[:-1] + "g", HEX30 + ".dirx", "x" * 30, "a"]
    for directory in ["", "ab/", "files/md5/ab/", "x/ab/", "xab/", "ab/cd/", "abc/", "AB/", "a/b/"]:
        assert dvc_like_count(directory, names) == sum(looks_like_dvc(directory + name) for name in names), directory


def _object_by_object(root_uri: str, objects: list[ListedObject]) -> Totals:
    """How totals were counted before batches, one object at a time (the reference)."""
    totals = Totals(uri="u", root_uri=root_uri)
    for key, size, modified, owner, _ in objects:
        totals.objects += 1
        totals.bytes += size
        if modified is not None:
            if totals.oldest is None or modified < totals.oldest:
                totals.oldest = modified
            if totals.newest is None or modified > totals.newest:
                totals.newest, totals.newest_owner = modified, owner
        if owner:
            if owner in totals.owners:
                totals.owners[owner] += 1
            elif len(totals.owners) < MAX_OWNERS:
                totals.owners[owner] = 1
        if len(totals.samples) < SAMPLE_KEYS:
            totals.samples.append(root_uri + key)
        totals.dvc_like += looks_like_dvc(key)
    return totals


def test_batch_totals_equal_object_by_object_totals():
    generator = random.Random(7)
    for _ in range(200):
        objects = [
            ListedObject(f"{generator.choice(['d/', 'ab/', ''])}{generator.choice([HEX30, 'n'])}{index}",
                         generator.randrange(100), generator.choice([None, 1.0, 2.0, 2.0, 3.0, float(index)]),
                         generator.choice(["", *(f"user{n}" for n in range(30))]))
            for index in range(generator.randrange(1, 60))
        ]
        totals = Totals(uri="u", root_uri="s3://b/")
        for batch in batched(objects, limit=generator.randrange(1, 8)):
            totals.add(batch, batch_figures(batch, details=True), track_details=True)
        assert totals == _object_by_object("s3://b/", objects)
        assert list(totals.owners) == list(_object_by_object("s3://b/", objects).owners)


def test_a_location_naming_one_object_counts_it_apart_from_its_folder(storage_settings, tmp_path, owner, settings):
    settings.KURA_SCAN_CHECKPOINT_EVERY = 2
    root = tmp_path / "mnt" / "share"
    for name in ["a.bin", "b.bin", "c.bin", "d.bin"]:
        (root / "dir").mkdir(parents=True, exist_ok=True)
        (root / "dir" / name).write_bytes(b"k" * 10)
    dataset = make_dataset(owner, locations=[LocationSpec(f"file://{root}/dir/b.bin")])
    connection = make_local_connection([str(root)])

    run = scan(connection)

    location = dataset.locations.get()
    counts: Counter[str] = Counter()
    for row in ScanAggregate.objects.filter(shard__run=run):
        counts[row.key] += row.object_count
    assert counts == {f"loc:{location.pk}": 1, "dir:dir/": 3}
    finding = Finding.objects.get(connection=connection, kind=Finding.Kind.UNREGISTERED)
    assert (finding.uri, finding.object_count, finding.total_bytes) == (f"file://{root}/dir/", 3, 30)
    assert finding.sample_keys == [f"file://{root}/dir/{name}" for name in ["a.bin", "c.bin", "d.bin"]]
