"""The one set of rules that adds up a group's figures: checkpoints into aggregates, shards into findings."""

from datetime import UTC, datetime

from storage.figures import SAMPLE_KEYS, GroupFigures, add_to_aggregate, is_later
from storage.models import DvcScanAggregate, ScanAggregate

JAN, FEB, MAR = (datetime(2024, month, 1, tzinfo=UTC) for month in (1, 2, 3))


def test_unknown_dates_never_win_and_any_known_date_beats_an_unknown_one():
    assert is_later(FEB, None) and is_later(FEB, JAN)
    assert not is_later(None, JAN) and not is_later(None, None) and not is_later(JAN, JAN)


def test_adding_parts_keeps_the_range_the_first_samples_and_says_when_the_newest_moved():
    group = GroupFigures()

    assert group.add(GroupFigures(objects=2, bytes=20, oldest=FEB, newest=FEB, samples=["a", "b"]))
    assert not group.add(GroupFigures(objects=1, bytes=5, samples=["c"]))  # dates unknown: the range stays
    assert not group.add(GroupFigures(objects=1, bytes=5, oldest=JAN, newest=JAN, samples=["d", "e", "f"]))
    assert not group.add(GroupFigures(objects=1, bytes=5, oldest=MAR, newest=FEB))  # not newer: a tie
    assert group.add(GroupFigures(objects=1, bytes=5, oldest=MAR, newest=MAR))

    assert (group.objects, group.bytes, group.oldest, group.newest) == (6, 40, JAN, MAR)
    assert group.samples == ["a", "b", "c", "d", "e"] and len(group.samples) == SAMPLE_KEYS


def test_a_stored_aggregate_grows_by_the_same_rules_and_its_extra_fields_are_left_to_the_caller():
    row = ScanAggregate(key="dir:x/", uri="file:///x/", object_count=3, byte_count=30, oldest=FEB, newest=FEB,
                        newest_owner="amara", sample_keys=["s1", "s2", "s3", "s4"])

    newer = add_to_aggregate(row, GroupFigures(objects=2, bytes=7, oldest=JAN, newest=MAR, samples=["s5", "s6"]))

    assert newer
    assert (row.object_count, row.byte_count, row.oldest, row.newest) == (5, 37, JAN, MAR)
    assert row.sample_keys == ["s1", "s2", "s3", "s4", "s5"] and row.newest_owner == "amara"
    dvc = DvcScanAggregate(key="k", object_class="unreferenced")
    assert not add_to_aggregate(dvc, GroupFigures(objects=1, bytes=1, samples=["only"]))
    assert (dvc.object_count, dvc.newest, dvc.sample_keys) == (1, None, ["only"])
