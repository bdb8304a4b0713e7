from django.urls import path

from access.api.directory_views import DirectorySyncSlashView, DirectorySyncView
from access.api.views import WhoAmIView

urlpatterns = [
    path("whoami/", WhoAmIView.as_view(), name="api-whoami"),
    # Both spellings: integration scripts differ on the trailing slash, and a redirect would drop a POST body.
    path("directory/sync", DirectorySyncView.as_view(), name="api-directory-sync"),
    path("directory/sync/", DirectorySyncSlashView.as_view()),
]
