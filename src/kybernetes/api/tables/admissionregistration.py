"""admissionregistration.k8s.io: webhook configurations and admission policies with their
bindings, following printMutatingWebhook, printValidatingWebhook,
printValidatingAdmissionPolicy(Binding) and printMutatingAdmissionPolicy(Binding) in kubernetes
pkg/printers/internalversion/printers.go.
"""

from __future__ import annotations

import datetime as dt

from kybernetes.api.tables.common import (
    TableSpec,
    age,
    age_column,
    as_dict,
    as_list,
    as_str,
    column,
    meta_name,
    name_column,
    selector_string,
)

GROUP = "admissionregistration.k8s.io"


def webhooks_cells(config: dict, now: dt.datetime) -> list:
    return [meta_name(config), len(as_list(config.get("webhooks"))), age(config, now)]


def _param_kind(spec: dict) -> str:
    kind = spec.get("paramKind")
    if not isinstance(kind, dict):
        return "<unset>"
    return f"{as_str(kind.get('apiVersion'))}/{as_str(kind.get('kind'))}"


def _policy_cells(rules_field: str):
    def cells(policy: dict, now: dt.datetime) -> list:
        spec = as_dict(policy.get("spec"))
        return [meta_name(policy), len(as_list(spec.get(rules_field))), _param_kind(spec), age(policy, now)]

    return cells


def binding_cells(binding: dict, now: dt.datetime) -> list:
    spec = as_dict(binding.get("spec"))
    param = "<unset>"
    ref = spec.get("paramRef")
    if isinstance(ref, dict):
        name = as_str(ref.get("name"))
        if name:
            # Without a namespace the param may be cluster-scoped or in any namespace: "*/name".
            param = f"{as_str(ref.get('namespace')) or '*'}/{name}"
        elif ref.get("selector") is not None:
            param = selector_string(ref.get("selector")) or ""
    return [meta_name(binding), as_str(spec.get("policyName")), param, age(binding, now)]


def _webhook_table() -> TableSpec:
    columns = (
        name_column(),
        column(
            "Webhooks",
            "Webhooks indicates the number of webhooks registered in this configuration",
            type="integer",
        ),
        age_column(),
    )
    return TableSpec(columns, webhooks_cells)


def _policy_table(count_name: str, rules_field: str) -> TableSpec:
    columns = (
        name_column(),
        column(count_name, f"Number of {rules_field} in the policy.", type="integer"),
        column("ParamKind", "ParamKind specifies the kind of resources used to parameterize this policy"),
        age_column(),
    )
    return TableSpec(columns, _policy_cells(rules_field))


_BINDING_TABLE = TableSpec(
    (
        name_column(),
        column("PolicyName", "The policy the binding applies."),
        column("ParamRef", "The resource that parameterizes the policy."),
        age_column(),
    ),
    binding_cells,
)

TABLES = {
    (GROUP, "mutatingwebhookconfigurations"): _webhook_table(),
    (GROUP, "validatingwebhookconfigurations"): _webhook_table(),
    (GROUP, "validatingadmissionpolicies"): _policy_table("Validations", "validations"),
    (GROUP, "mutatingadmissionpolicies"): _policy_table("Mutations", "mutations"),
    (GROUP, "validatingadmissionpolicybindings"): _BINDING_TABLE,
    (GROUP, "mutatingadmissionpolicybindings"): _BINDING_TABLE,
}
