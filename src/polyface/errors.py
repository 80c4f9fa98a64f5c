"""One error hierarchy for every provider.

Every message says what failed, why, and what to do. No message ever holds a secret:
provider messages pass through :func:`polyface.providers._base.secrets.redact` before
they are stored here.
"""

from __future__ import annotations

from collections.abc import Iterable


class PolyfaceError(Exception):
    """Root of every error polyface raises."""


class ConfigurationError(PolyfaceError):
    """Polyface was set up wrongly (missing key, bad base URL, unknown provider)."""


class InvalidArgument(PolyfaceError, ValueError):
    """A call was given an argument polyface can tell is wrong before sending anything."""


class MissingCredentials(ConfigurationError):
    """No API key could be found for a provider."""

    def __init__(self, provider: str, env_var: str) -> None:
        self.provider = provider
        self.env_var = env_var
        super().__init__(
            f"No API key for {provider}: set the {env_var} environment variable, add "
            f"{env_var}=... to a .env file, or pass api_key=... to the adapter."
        )


class ProviderError(PolyfaceError):
    """A provider answered with an error, or could not be reached.

    ``status`` is the HTTP status (None when no response came back), ``code`` the
    vendor's error code or type, ``request_id`` the vendor's request id, and
    ``retry_after`` the seconds the vendor asked us to wait, if it said.
    """

    default_hint = "See the provider's message above."

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.vendor_message = message
        self.hint = hint if hint is not None else self.default_hint
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.provider}"
        if self.status is not None:
            head += f" returned HTTP {self.status}"
        if self.code:
            head += f" ({self.code})"
        message = self.vendor_message.strip()
        text = f"{head}: {message}"
        if self.hint:
            text += f"{'' if message.endswith(('.', '!', '?')) else '.'} {self.hint}"
        if self.request_id:
            text += f" [request id: {self.request_id}]"
        return text


class AuthenticationError(ProviderError):
    default_hint = "Check that the API key is valid and belongs to this provider."


class PermissionDenied(ProviderError):
    default_hint = "The key is valid but may not use this model or feature (or the account lacks credit)."


class NotFound(ProviderError):
    default_hint = "Check the model name or id; `polyface models <provider>` lists what is available."


class InvalidRequest(ProviderError):
    default_hint = "Fix the request parameters named above."


class Conflict(ProviderError):
    default_hint = "The resource already exists or is being changed; re-read it before retrying."


class RateLimited(ProviderError):
    default_hint = "Slow down, or configure a client-side rate limit (rate_limit=RateLimit(...))."


class ServerError(ProviderError):
    default_hint = "The provider failed; try again later."


class ProviderUnavailable(ServerError):
    default_hint = "The provider could not be reached or is overloaded. Try again later."


class ProviderTimeout(ProviderError):
    default_hint = "Raise the timeout (timeout=... per call or on the adapter) or try again."


class JobFailed(PolyfaceError):
    """A provider job (fine-tune, video) failed or was cancelled; carries the vendor's reason."""

    def __init__(self, provider: str, job_id: str, status: str, reason: str | None = None) -> None:
        self.provider = provider
        self.job_id = job_id
        self.status = status
        self.reason = reason
        why = f": {reason}" if reason else ""
        super().__init__(f"{provider} job {job_id} ended with status {status!r}{why}")


class JobNotFinished(PolyfaceError):
    """A job's result was asked for before the job completed; wait for it first (``job.wait()``)."""


class JobTimeout(PolyfaceError):
    """``wait(timeout=...)`` ran out before the job finished; the job goes on (re-attach by id)."""


class CapabilityNotSupported(PolyfaceError):
    """The provider does not offer this capability (or not yet in polyface)."""

    def __init__(
        self, provider: str, capability: str, *, offered_by: Iterable[str] = (), reason: str | None = None
    ) -> None:
        self.provider = provider
        self.capability = capability
        self.offered_by = tuple(offered_by)
        why = reason or f"{provider} does not offer {capability} in polyface"
        msg = f"{why}."
        if self.offered_by:
            msg += f" Providers that do: {', '.join(self.offered_by)}."
        super().__init__(msg)


class DatasetError(PolyfaceError):
    """A training dataset has bad rows. ``problems`` lists (line, field, message)."""

    def __init__(self, path: str, problems: list[tuple[int, str, str]]) -> None:
        self.path = path
        self.problems = problems
        shown = "\n".join(f"  line {line}: {field}: {msg}" for line, field, msg in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{path} has {len(problems)} bad line(s); fix them and try again:\n{shown}{more}")


class ConsentRequired(PolyfaceError):
    """Training a real person's likeness needs a recorded consent."""


class BudgetExceeded(PolyfaceError):
    """The estimated cost is over the caller's budget; nothing was spent."""

    def __init__(self, estimated_usd: float, budget_usd: float, what: str = "this job") -> None:
        self.estimated_usd = estimated_usd
        self.budget_usd = budget_usd
        super().__init__(
            f"{what} is estimated at ${estimated_usd:.2f}, over the budget of ${budget_usd:.2f}; "
            "nothing was started. Raise budget_usd or reduce the work (fewer epochs, a smaller model)."
        )


__all__ = [
    "AuthenticationError",
    "BudgetExceeded",
    "CapabilityNotSupported",
    "ConfigurationError",
    "Conflict",
    "ConsentRequired",
    "DatasetError",
    "InvalidArgument",
    "InvalidRequest",
    "JobFailed",
    "JobNotFinished",
    "JobTimeout",
    "MissingCredentials",
    "NotFound",
    "PermissionDenied",
    "PolyfaceError",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "ServerError",
]
