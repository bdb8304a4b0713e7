from django.db.models import Count, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from storage.api.dvc_serializers import DecodedSerializer, TrainingRepoSerializer
from storage.dvc.decode import decode
from storage.dvc.repos import training_repo_list
from storage.models import DvcRemoteConfig, TrainingRepo


class DvcDecodeView(APIView):
    @extend_schema(
        summary="What a DVC hash or remote key is: repository, path, stage, commit, author, dataset, files",
        responses={200: DecodedSerializer, 400: OpenApiResponse(description="Neither a hash nor a DVC key")},
    )
    def get(self, request: Request, query: str) -> Response:
        decoded = decode(query, user=request.user)
        if decoded is None:
            raise exceptions.ValidationError(
                {"query": ["Give an md5 hash (optionally with '.dir') or a DVC remote key like files/md5/ab/cd…."]}
            )
        return Response(DecodedSerializer(decoded).data)


class TrainingRepoListView(ListAPIView):
    serializer_class = TrainingRepoSerializer

    def get_queryset(self) -> "QuerySet[TrainingRepo]":
        return training_repo_list(user=self.request.user).annotate(warning_count=Count("warnings")).prefetch_related(
            Prefetch("remotes", queryset=DvcRemoteConfig.objects.order_by("name", "url"))
        )

    @extend_schema(summary="Linked training repositories, with the linked datasets you may see")
    def get(self, request: Request) -> Response:
        return self.list(request)
