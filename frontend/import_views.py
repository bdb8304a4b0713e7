"""Importing a dataset's documentation from a Croissant file."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from access.selectors import default_owning_unit, person_for_user
from catalog.documentation.croissant_import import CroissantRejected
from catalog.imports import dataset_import_croissant
from frontend.forms import CroissantImportForm, apply_service_errors


@login_required
def croissant_import(request: HttpRequest) -> HttpResponse:
    person = person_for_user(request.user)
    if person is None:
        raise PermissionDenied("Only people can register datasets.")
    if request.method == "POST":
        form = CroissantImportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = dataset_import_croissant(
                    actor=person,
                    owning_unit=data["owning_unit"],
                    document=data["document"],
                    slug=data["slug"],
                    purpose=data["purpose"],
                )
            except CroissantRejected as error:
                form.add_error("purpose" if error.code == "croissant_missing_purpose" else "document", error.message)
            except ValidationError as error:
                apply_service_errors(form, error, elsewhere=" in the document")
            else:
                dataset = result.dataset
                messages.success(
                    request, f"Imported '{dataset.name}' as a draft. Check it, then set its status to Active."
                )
                for note in result.notes:
                    messages.warning(request, note)
                return redirect("frontend:dataset-edit", slug=dataset.slug)
    else:
        default_unit = default_owning_unit(person)
        form = CroissantImportForm(initial={"owning_unit": default_unit.pk if default_unit else None})
    return render(request, "frontend/croissant_import.html", {"form": form})
