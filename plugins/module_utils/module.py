# Copyright: certops.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule every module of the collection is built on.

Before Ansible validates anything, private-key material in any option is masked, options given as null (and
non-boolean options given as false) are dropped, and values too long or of the wrong shape are set aside with
their problem; then the collection's own option rules run, where null and false count as not given.
Every failure carries an error_code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.certops.aws.plugins.module_utils.certificate import (
    HAS_CRYPTOGRAPHY,
    MAX_TEXT_LENGTH,
    contains_private_key,
    private_key_fragments,
    strings_in,
    try_parse_certificate,
)
from ansible_collections.certops.aws.plugins.module_utils.connection import (
    CONNECTION_ARGUMENT_SPEC,
    HAS_BOTO3,
    ConnectionSettingsError,
    iam_client,
)
from ansible_collections.certops.aws.plugins.module_utils.iam import (
    IamError,
    SigningCertificates,
    invalid_certificate_id,
    invalid_user_name,
)
from ansible_collections.certops.aws.plugins.module_utils.rules import INVALID_PARAMETERS, Refusal

IDENTIFIER_RULES = {"user_name": invalid_user_name, "certificate_id": invalid_certificate_id}
PEM_MARK = "-----BEGIN "


def _stand_in(text: str) -> str:
    """What a result's invocation shows of an option that holds PEM text: the certificate's fingerprint."""
    parsed = try_parse_certificate(text) if not contains_private_key(text) else None
    if parsed is not None:
        return f"(PEM certificate, SHA-256 fingerprint {parsed.fingerprint_sha256})"
    return f"(PEM text of {len(text)} characters, not shown)"


def shown_in_invocation(value: Any) -> Any:
    """The module's options as its result's invocation shows them: PEM text replaced by a stand-in. A task's
    certificate bodies (1.6 kB each, a rotation has one per user) would otherwise be echoed into every result and job
    event; ansible-core 2.21 leaves invocation out by default, earlier versions always put it in."""
    if isinstance(value, str):
        return _stand_in(value) if PEM_MARK in value else value
    if isinstance(value, dict):
        return {key: shown_in_invocation(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shown_in_invocation(item) for item in value]
    return value


def _secret_key_inside(value: Any) -> bool:
    """Whether a free-form value has a mapping key (at any depth) that carries private-key material."""
    if isinstance(value, dict):
        return any(
            (isinstance(key, str) and contains_private_key(key)) or _secret_key_inside(item)
            for key, item in value.items()
        )
    if isinstance(value, (list, tuple)):
        return any(_secret_key_inside(item) for item in value)
    return False


def _as_dict(value: Any) -> dict[str, Any] | None:
    """A dict option's value as Ansible reads it (a mapping, or JSON or key=value text); None if it is not one."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            return check_type_dict(value)
        except (TypeError, ValueError):
            return None
    return None


def _prepared(values: dict[str, Any], spec: dict[str, Any], path: str, problems: list[str]) -> dict[str, Any]:
    """The options as Ansible should validate them: null dropped everywhere (not given: defaults and fallbacks
    apply), false dropped from options that are not booleans (templated false means not given too), and values
    of the wrong shape for options with suboptions taken out, each with its problem, so that Ansible's own
    validation does not crash on them."""
    canonical = {alias: name for name, option in spec.items() for alias in [name, *option.get("aliases", ())]}
    prepared = {}
    for name, value in values.items():
        if isinstance(name, str) and contains_private_key(name):
            # Ansible masks values only, never mapping keys: such an entry must not reach any output.
            problems.append(f"{path or 'the task'} has an option named by private-key material (not shown)")
            continue
        option = spec.get(canonical.get(name, ""), {})
        kind = option.get("type", "str")
        if value is None or (value is False and option and kind not in ("bool", "raw")):
            continue
        label = f"{path}{canonical.get(name, name)}"
        if not option.get("options") and _secret_key_inside(value):
            problems.append(f"{label} has a setting named by private-key material (not shown)")
            continue
        if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
            problems.append(f"{label} is {len(value)} characters long; at most {MAX_TEXT_LENGTH} are accepted")
            continue
        if any("\x00" in text for text in strings_in(value)):
            # Also kept from Ansible's own logging, which fails on it (ansible-core 2.20 and later).
            problems.append(
                f"{label} holds a NUL character: no option takes binary data. A certificate in DER form: convert it "
                "with 'openssl x509 -inform der -in cert.der -out cert.pem' and give the PEM text"
            )
            continue
        if option.get("options") and kind == "dict":
            mapping = _as_dict(value)
            if mapping is None:
                problems.append(f"{label} must be a mapping of its settings, got {type(value).__name__}")
                continue
            value = _prepared(mapping, option["options"], f"{label}.", problems)
        elif option.get("options") and kind == "list" and isinstance(value, list):
            entries = []
            for number, entry in enumerate(value):
                mapping = _as_dict(entry)
                if mapping is None:
                    problems.append(f"{label}[{number}] must be a mapping, got {type(entry).__name__}")
                    continue
                entries.append(_prepared(mapping, option["options"], f"{label}[{number}].", problems))
            value = entries
        prepared[name] = value
    return prepared


class AwsModule(AnsibleModule):
    """An AnsibleModule with the shared AWS connection options and an IAM signing-certificate client.

    required_one_of and mutually_exclusive are the collection's own rules (an option given as null or
    false counts as not given), checked after Ansible's argument validation.
    """

    def __init__(
        self,
        argument_spec: dict[str, Any],
        required_one_of: Sequence[Sequence[str]] = (),
        mutually_exclusive: Sequence[Sequence[str]] = (),
        **kwargs: Any,
    ) -> None:
        self.given: set[str] = set()
        self.given_as_null: set[str] = set()
        self.problems: list[str] = []  # found while the options were read, before Ansible's validation
        super().__init__(argument_spec={**CONNECTION_ARGUMENT_SPEC, **argument_spec}, **kwargs)
        if self.problems:
            self.fail_json(msg="; ".join(self.problems))
        if not HAS_BOTO3:
            self.fail_json(msg=missing_required_lib("boto3 and botocore"), error_code="MissingLibrary")
        if not HAS_CRYPTOGRAPHY:
            self.fail_json(msg=missing_required_lib("cryptography"), error_code="MissingLibrary")
        for options in required_one_of:
            if not any(self.is_given(option) for option in options):
                self.fail_json(msg=f"one of the following is required: {', '.join(options)}{self._null_hint(options)}")
        for options in mutually_exclusive:
            if sum(self.is_given(option) for option in options) > 1:
                self.fail_json(msg=f"parameters are mutually exclusive: {'|'.join(options)}")
        for option, invalid in IDENTIFIER_RULES.items():
            value = self.params.get(option)
            if isinstance(value, str) and invalid(value):
                self.fail_json(msg=invalid(value))

    def _load_params(self) -> None:
        super()._load_params()
        # Masking comes first: Ansible's own validation may echo a value (a bad choice, a failed conversion).
        for text in strings_in(self.params):
            if contains_private_key(text):
                self.no_log_values.update(private_key_fragments(text))
        raw_names = set(self.params)
        self.params = _prepared(self.params, self.argument_spec, "", self.problems)
        canonical = {
            alias: name for name, spec in self.argument_spec.items() for alias in [name, *spec.get("aliases", ())]
        }
        self.given = {canonical[name] for name in self.params if name in canonical}
        self.given_as_null = {canonical[name] for name in raw_names - set(self.params) if name in canonical}

    def _null_hint(self, options: Sequence[str]) -> str:
        """Why an option may be null: in check mode, a value IAM chooses (an upload's ID) is predicted as null."""
        nulls = [option for option in options if option in self.given_as_null]
        if not nulls:
            return ""
        hint = f" ({' and '.join(nulls)} {'was' if len(nulls) == 1 else 'were'} given as null"
        if self.check_mode:
            hint += (
                "; in check mode, the ID of a certificate that an earlier task would upload is predicted as null, "
                "because IAM chooses it at upload: identify the certificate by certificate_body instead"
            )
        return hint + ")"

    def is_given(self, option: str) -> bool:
        """Set in the task to something other than null or false."""
        return self.params.get(option) not in (None, False)

    def _with_invocation(self, result: dict[str, Any]) -> dict[str, Any]:
        # Before the options are read (Ansible's own validation failing), Ansible's default stands.
        if isinstance(getattr(self, "params", None), dict):
            # A no_log option stays as it is: Ansible masks it whole, a stand-in would tell its length.
            secret = {name for name, spec in self.argument_spec.items() if spec.get("no_log")}
            shown = {
                name: value if name in secret else shown_in_invocation(value) for name, value in self.params.items()
            }
            result.setdefault("invocation", {"module_args": shown})
        return result

    def exit_json(self, **kwargs: Any) -> NoReturn:
        super().exit_json(**self._with_invocation(kwargs))

    def fail_json(self, msg: Any, **kwargs: Any) -> NoReturn:
        # Ansible's own argument validation fails through here too: it is about the options.
        kwargs.setdefault("error_code", INVALID_PARAMETERS)
        super().fail_json(msg=msg, **self._with_invocation(kwargs))

    def fail_refusal(self, refusal: Refusal, **result: Any) -> NoReturn:
        self.fail_json(msg=refusal.message, error_code=refusal.error_code, **result)

    def fail_iam(self, error: IamError, **result: Any) -> NoReturn:
        self.fail_json(msg=error.message, error_code=error.code, **result)

    def signing_certificates(self, max_pool_connections: int | None = None) -> SigningCertificates:
        """The IAM client for this task's connection options; bad options end the task with a clear message."""
        try:
            return SigningCertificates(iam_client(self.params, self.given, max_pool_connections))
        except ConnectionSettingsError as exc:
            self.fail_json(msg=str(exc), error_code=exc.code)
