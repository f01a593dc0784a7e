"""API errors: a slug for machines, a sentence for people, never a traceback."""

from __future__ import annotations

from flask import jsonify


class ApiError(Exception):
    """An error the API answers with `{"error": {"code", "message"}}` and an HTTP status."""

    def __init__(self, status: int, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self):
        body = {"error": {"code": self.code, "message": self.message, **self.extra}}
        return jsonify(body), self.status


def bad_request(message: str, code: str = "invalid") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str = "There is no such record.", code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)
