"""Sign-up, JWT sign-in / refresh / sign-out, password change and reset."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.apis.base import INVALID, TOO_MANY, UNAUTHORIZED, AuthenticatedRequest, ip_of
from accounts.exceptions import AuthenticationFailed
from accounts.throttling import attempt_check, attempt_failed


def _password_field() -> serializers.CharField:
    return serializers.CharField(
        write_only=True, max_length=128, style={"input_type": "password"}, trim_whitespace=False
    )


EXAMPLE_PASSWORD = "correct horse battery staple"  # noqa: S105 - the OpenAPI example, not a credential  # pragma: allowlist secret


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Short-lived (ACCESS_TOKEN_MINUTES); send as Authorization: Bearer.")
    refresh = serializers.CharField(help_text="Exchange at /api/auth/token/refresh; rotated on every use.")


_TOKENS = OpenApiExample("tokens", value={"access": "eyJhbGciOi…", "refresh": "eyJhbGciOi…"}, response_only=True)


class UserRegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = _password_field()
        full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        invitation_token = serializers.CharField(max_length=500, required=False, help_text="Required when invite-only.")

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        full_name = serializers.CharField()

    @extend_schema(
        tags=["auth"],
        summary="Create an account",
        request=InputSerializer,
        responses={201: OutputSerializer, 400: INVALID, 403: INVALID, 409: INVALID, 429: TOO_MANY},
        examples=[
            OpenApiExample(
                "register", value={"email": "ada@example.com", "password": EXAMPLE_PASSWORD}, request_only=True
            ),
            OpenApiExample("created", value={"id": 1, "email": "ada@example.com", "full_name": ""}, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attempt_check(request, scope="register", account=data["email"], count_account=True)
        user = services.user_register(
            email=data["email"],
            password=data["password"],
            full_name=data.get("full_name", ""),
            invitation_token=data.get("invitation_token"),
            ip=ip_of(request),
        )
        return Response(self.OutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = _password_field()

    @extend_schema(
        tags=["auth"],
        summary="Sign in: obtain an access and a refresh token",
        request=InputSerializer,
        responses={200: TokenPairSerializer, 400: INVALID, 401: UNAUTHORIZED, 429: TOO_MANY},
        examples=[
            OpenApiExample(
                "sign in", value={"email": "ada@example.com", "password": EXAMPLE_PASSWORD}, request_only=True
            ),
            _TOKENS,
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"]
        attempt_check(request, scope="login", account=email)
        try:
            tokens = services.auth_token_obtain(
                request=request, email=email, password=serializer.validated_data["password"], ip=ip_of(request)
            )
        except AuthenticationFailed:
            attempt_failed(request, scope="login", account=email)
            raise
        return Response(TokenPairSerializer(tokens).data)


class _RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class TokenRefreshApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    InputSerializer = _RefreshInput

    @extend_schema(
        tags=["auth"],
        summary="Rotate: a new token pair for a refresh token (the old refresh token stops working)",
        request=InputSerializer,
        responses={200: TokenPairSerializer, 401: UNAUTHORIZED, 429: TOO_MANY},
        examples=[OpenApiExample("refresh", value={"refresh": "eyJhbGciOi…"}, request_only=True), _TOKENS],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attempt_check(request, scope="refresh", account=None)
        return Response(
            TokenPairSerializer(services.auth_token_refresh(refresh=serializer.validated_data["refresh"])).data
        )


class LogoutApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    InputSerializer = _RefreshInput

    @extend_schema(
        tags=["auth"],
        summary="Sign out: blacklist the refresh token",
        request=InputSerializer,
        responses={204: None, 401: UNAUTHORIZED},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.auth_logout(refresh=serializer.validated_data["refresh"], ip=ip_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        old_password = _password_field()
        new_password = _password_field()

    @extend_schema(
        tags=["auth"],
        summary="Change the password (signs out every other session)",
        request=InputSerializer,
        responses={204: None, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_change(user=request.user, **serializer.validated_data, ip=ip_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)

    @extend_schema(
        tags=["auth"],
        summary="E-mail a password-reset token (the answer is the same whether the account exists or not)",
        request=InputSerializer,
        responses={202: None, 400: INVALID, 429: TOO_MANY},
        examples=[OpenApiExample("reset", value={"email": "ada@example.com"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"]
        attempt_check(request, scope="password_reset", account=email, count_account=True)
        services.password_reset_request(email=email, ip=ip_of(request))
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = _password_field()

    @extend_schema(
        tags=["auth"],
        summary="Set a new password with the e-mailed uid and token",
        request=InputSerializer,
        responses={204: None, 400: INVALID, 429: TOO_MANY},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attempt_check(request, scope="password_reset", account=serializer.validated_data["uid"], count_account=True)
        services.password_reset_confirm(**serializer.validated_data, ip=ip_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
