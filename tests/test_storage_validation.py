"""Connections cannot point Kura at metadata services, private networks or data outside the allow-list."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from storage.credentials import CredentialsError, s3_credentials
from storage.models import StorageConnection
from tests.factories import bearer, make_person
from tests.storage_support import make_s3_connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("endpoint", [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://10.0.0.5:9000",
    "http://[::1]:9000",
    "file:///etc/passwd",
    "http://user:secret@example.com",
    "https://8.8.8.8:99999",  # a port urllib refuses to read
    "http://[::1",  # an IPv6 host left open
])
def test_ssrf_endpoints_are_refused(settings, endpoint):
    # Even an administrator allowing loopback and the whole link-local range does not open the metadata service.
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1/32", "169.254.0.0/16"]
    with pytest.raises(ValidationError) as refused:
        make_s3_connection(endpoint, ["bucket"])
    assert "endpoint_url" in refused.value.message_dict
    assert not StorageConnection.objects.exists()


def test_loopback_needs_the_setting(settings):
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = []
    with pytest.raises(ValidationError, match="KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS"):
        make_s3_connection("http://127.0.0.1:9000", ["bucket"])
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1"]
    assert make_s3_connection("http://127.0.0.1:9000/", ["bucket/raw"]).endpoint_url == "http://127.0.0.1:9000"


def test_credentials_are_references_not_values(settings, tmp_path, monkeypatch):
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1"]
    with pytest.raises(ValidationError, match="name of an environment variable"):
        make_s3_connection("http://127.0.0.1:9000", ["bucket"], access_key_env="AKIA/abc+def=",
                           secret_key_env="SECRET")
    secrets = tmp_path / "credentials"
    secrets.write_text("[scanner]\naws_access_key_id = AKIAFROMFILE\naws_secret_access_key = s3cr3t\n")
    connection = make_s3_connection("http://127.0.0.1:9000", ["bucket"], access_key_env="", secret_key_env="",
                                    secrets_file=str(secrets), secrets_file_key="scanner")
    assert s3_credentials(connection).access_key_id == "AKIAFROMFILE"
    assert "s3cr3t" not in repr(s3_credentials(connection))
    connection.secrets_file_key = "other"
    with pytest.raises(CredentialsError) as missing:
        s3_credentials(connection)
    assert "s3cr3t" not in str(missing.value)


RELATIVE_SECRETS = "secrets/s3.json"  # read from wherever each worker happens to be started


def test_a_relative_secrets_file_is_refused_by_the_service(settings, tmp_path):
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1"]
    for path in (RELATIVE_SECRETS, "./s3.json", "~/.aws/credentials"):
        with pytest.raises(ValidationError) as refused:
            make_s3_connection("http://127.0.0.1:9000", ["bucket"], access_key_env="", secret_key_env="",
                               secrets_file=path)
        assert "absolute path" in " ".join(refused.value.message_dict["secrets_file"])
    assert not StorageConnection.objects.exists()


def test_a_relative_secrets_file_is_a_field_error_in_the_form_and_the_api(client, api, settings):
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1"]
    staff = make_person("ada", staff=True)
    client.force_login(staff.user)

    page = client.post(reverse("frontend:connection-new"), {
        "name": "raw", "kind": "s3", "roots": "ml-raw", "endpoint_url": "http://127.0.0.1:9000",
        "secrets_file": RELATIVE_SECRETS})

    assert page.status_code == 400
    assert "absolute path" in " ".join(page.context["form"].errors["secrets_file"])

    api.credentials(HTTP_AUTHORIZATION=bearer(staff, scope="read_write"))
    answer = api.post("/api/v1/storage/connections/", {
        "name": "raw", "kind": "s3", "roots": ["ml-raw"], "endpoint_url": "http://127.0.0.1:9000",
        "secrets_file": RELATIVE_SECRETS}, format="json")

    assert answer.status_code == 400
    assert "absolute path" in " ".join(answer.json()["error"]["details"]["secrets_file"])
    assert not StorageConnection.objects.exists()


def test_a_relative_secrets_file_saved_before_the_check_is_not_read_at_scan_time(settings, tmp_path, monkeypatch):
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1"]
    (tmp_path / "credentials").write_text("[default]\naws_access_key_id = A\naws_secret_access_key = B\n")
    monkeypatch.chdir(tmp_path)
    connection = make_s3_connection("http://127.0.0.1:9000", ["bucket"], access_key_env="", secret_key_env="")
    StorageConnection.objects.filter(pk=connection.pk).update(secrets_file="credentials")
    connection.refresh_from_db()

    with pytest.raises(CredentialsError, match="absolute path"):
        s3_credentials(connection)
