from django.contrib.auth.models import AnonymousUser

from access.models import ApiToken, OrgUnit


class UnitPrincipal(AnonymousUser):
    """The caller behind a token owned by an org unit: authenticated, but no person and no staff rights."""

    def __init__(self, unit: OrgUnit, token: ApiToken) -> None:
        super().__init__()
        self.unit = unit
        self.token = token
        self.username = f"unit:{unit.pk}"  # type: ignore[assignment]  # AnonymousUser pins it to ""

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    def __str__(self) -> str:
        return f"token for {self.unit.name}"
