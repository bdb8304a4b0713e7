"""The token lookup every API request makes, written out as one statement (why: see ``kura.statements``)."""

from functools import cache

from django.contrib.auth import get_user_model

from access.models import ApiToken, OrgUnit, Person
from kura.statements import all_columns, fetch, joined_instance, quote, table


def token_by_prefix(prefix: str) -> ApiToken | None:
    """The token with this prefix, its owner person (with their user) and owner unit loaded with it:
    ``select_related("owner_person__user", "owner_unit")`` written out, as every API request asks it."""
    rows = fetch(_token_sql(), [prefix])  # the prefix is unique
    if not rows:
        return None
    values = iter(rows[0])
    token = joined_instance(all_columns(ApiToken), values)
    person = joined_instance(all_columns(Person), values)
    user = joined_instance(all_columns(get_user_model()), values)
    unit = joined_instance(all_columns(OrgUnit), values)
    assert token is not None
    if person is not None:
        assert user is not None  # a person always has a user
        person.user = user  # also caches user.person, as select_related does for a one-to-one
    token.owner_person, token.owner_unit = person, unit
    return token


@cache
def _token_sql() -> str:
    user_model = get_user_model()
    token, person, user, unit = (all_columns(model) for model in (ApiToken, Person, user_model, OrgUnit))
    return (
        f"SELECT {token.sql('t')}, {person.sql('p')}, {user.sql('u')}, {unit.sql('o')} FROM {table(ApiToken)} t"
        f" LEFT JOIN {table(Person)} p ON p.{quote('id')} = t.{quote('owner_person_id')}"
        f" LEFT JOIN {table(user_model)} u ON u.{quote('id')} = p.{quote('user_id')}"
        f" LEFT JOIN {table(OrgUnit)} o ON o.{quote('id')} = t.{quote('owner_unit_id')}"
        f" WHERE t.{quote('prefix')} = %s"
    )
