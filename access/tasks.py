from celery import shared_task

from access.approvals import access_requests_escalate, access_requests_expire
from access.grants import grants_record_expiries
from access.leavers import memberships_end_grace


@shared_task(name="access.tasks.escalate_requests")
def escalate_requests() -> int:
    return access_requests_escalate()


@shared_task(name="access.tasks.expire_requests")
def expire_requests() -> int:
    return access_requests_expire()


@shared_task(name="access.tasks.record_grant_expiries")
def record_grant_expiries() -> int:
    return grants_record_expiries()


@shared_task(name="access.tasks.end_mover_grace")
def end_mover_grace() -> int:
    return memberships_end_grace()
