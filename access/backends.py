from typing import Any

from django.contrib.auth.backends import ModelBackend

from access.models import Person


class ActivePersonBackend(ModelBackend):
    """Django's model backend, except that a departed person can neither sign in nor keep a session."""

    def user_can_authenticate(self, user: Any) -> bool:
        if not super().user_can_authenticate(user):
            return False
        try:
            person = user.person
        except Person.DoesNotExist:
            return True  # staff accounts without a directory entry (e.g. the first superuser)
        return bool(person.status == Person.Status.ACTIVE)
