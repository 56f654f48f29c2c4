"""Server-side apply conflicts, read from the 409 Status the API server sends.

The causes below are shaped as kube-apiserver words them: kubernetes/kubernetes
staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal/conflict_test.go
(TestNewConflictError), one cause per field, type FieldManagerConflict, in their JSON
form: StatusCause's Type is serialised as "reason" (apimachinery pkg/apis/meta/v1/types.go,
``Type CauseType `json:"reason,omitempty"```).
"""

from __future__ import annotations

from mlkube.cluster.apply import ApplyConflict, Conflict, conflicts

CAUSES = [
    {
        "reason": "FieldManagerConflict",
        "message": 'conflict with "foo" using v1 at 2001-02-03T04:05:06Z',
        "field": ".spec.replicas",
    },
    {
        "reason": "FieldManagerConflict",
        "message": 'conflict with "bar"',
        "field": ".metadata.labels.app",
    },
    {
        "reason": "FieldManagerConflict",
        "message": 'conflict with "foo" with subresource "scale" using v1 at 2001-02-03T04:05:06Z',
        "field": ".spec.replicas",
    },
]


def test_each_cause_names_its_manager_field_and_subresource() -> None:
    assert conflicts(CAUSES) == [
        Conflict("foo", ".spec.replicas"),
        Conflict("bar", ".metadata.labels.app"),
        Conflict("foo", ".spec.replicas", "scale"),
    ]


def test_causes_of_other_types_are_not_conflicts() -> None:
    invalid = {"reason": "FieldValueInvalid", "message": "Invalid value", "field": "spec.x"}
    assert conflicts([invalid]) == []


def test_the_message_is_one_line_naming_managers_fields_and_the_way_out() -> None:
    error = ApplyConflict("deployment ml/web", conflicts(CAUSES))
    text = str(error)
    assert "\n" not in text
    assert text.startswith("deployment ml/web: conflict: ")
    assert '.spec.replicas owned by field manager "foo"' in text
    assert '.metadata.labels.app owned by field manager "bar"' in text
    assert '"foo" (subresource scale)' in text
    assert "--force-conflicts" in text
    assert error.exit_code == 4


def test_many_fields_are_counted_not_listed() -> None:
    many = [Conflict("kubectl-edit", f".data.k{i}") for i in range(20)]
    text = str(ApplyConflict("configmap default/c", many))
    assert ".data.k0" in text and ".data.k8" not in text and "and 12 more" in text
