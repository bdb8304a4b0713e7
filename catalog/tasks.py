from celery import shared_task

from catalog.models import StorageLocation
from catalog.verification import file_locations, location_verify


@shared_task(name="catalog.tasks.verify_location", autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def verify_location(location_id: int) -> bool | None:
    location = StorageLocation.objects.filter(pk=location_id).first()
    if location is None:
        return None
    return location_verify(location=location)


@shared_task(name="catalog.tasks.verify_all_locations")
def verify_all_locations() -> int:
    location_ids = file_locations()
    for location_id in location_ids:
        verify_location.delay(location_id)
    return len(location_ids)
