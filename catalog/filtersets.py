from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.http import QueryDict

from access.models import OrgUnit
from catalog.models import Dataset
from catalog.search import search_datasets


class DatasetFilterSet(django_filters.FilterSet):
    """Filters shared by the dataset API and the browser list: search, status, owner, unit, tag."""

    search = django_filters.CharFilter(method="filter_search", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=Dataset.Status.choices)
    owner = django_filters.CharFilter(method="filter_owner", label="Owner (username or external id)")
    unit = django_filters.ModelChoiceFilter(field_name="owning_unit", queryset=OrgUnit.objects.all(), label="Unit")
    tag = django_filters.CharFilter(field_name="tags__name", distinct=True, label="Tag")
    classification = django_filters.ChoiceFilter(choices=Dataset.Classification.choices)
    visibility = django_filters.ChoiceFilter(choices=Dataset.Visibility.choices)

    class Meta:
        model = Dataset
        fields = ["search", "status", "owner", "unit", "tag", "classification", "visibility"]

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # Forms send "status=" for "any status"; an empty value means "no filter", not an invalid choice.
        if data is not None:
            cleaned = QueryDict(mutable=True)
            for key in data:
                values = [value for value in data.getlist(key) if value.strip()]
                if values:
                    cleaned.setlist(key, values)
            data = cleaned
        super().__init__(data, *args, **kwargs)

    def filter_search(self, queryset: "QuerySet[Dataset]", name: str, value: Any) -> "QuerySet[Dataset]":
        return search_datasets(queryset, str(value))

    def filter_owner(self, queryset: "QuerySet[Dataset]", name: str, value: Any) -> "QuerySet[Dataset]":
        return queryset.filter(Q(owner__user__username=value) | Q(owner__external_id=value))
