"""Change sets as `aws cloudformation deploy` uses them (CreateChangeSet, DescribeChangeSet, ExecuteChangeSet).

moto 5.2.5 executes a change set by applying its template to the stack's resources at once: the stack is
CREATE_COMPLETE before any custom resource has answered, a new stack has no outputs, no update sends custom resources
their Update, and a change set that changes nothing raises ValidationError from CreateChangeSet. Here, as the
CloudFormation API reference and user guide describe it:
- CreateChangeSet's ChangeSetType defaults to UPDATE; a CREATE change set puts a new stack in REVIEW_IN_PROGRESS
  (moto's), one for a name in use is AlreadyExistsException; a parameter with UsePreviousValue takes the stack's
  value; an UPDATE change set that changes nothing (template, parameter values given or by default, tags, role) is
  created FAILED, its StatusReason "The submitted information didn't contain changes. Submit different
  information to create a change set.", its ExecutionStatus UNAVAILABLE.
- ExecuteChangeSet of a CREATE change set creates the stack as CreateStack does (the REVIEW_IN_PROGRESS stack keeps
  its id and events; custom resources in dependency order, outputs, rollback on failure); of an UPDATE change set,
  updates it as UpdateStack does (update.py: Update, cleanup, rollback). Only an AVAILABLE change set executes
  (else InvalidChangeSetStatus); once one executed, it is EXECUTE_COMPLETE and the stack's others are OBSOLETE.
"""
from __future__ import annotations

from harness.cloudformation.template_fixes import _resolve_ssm_references
from harness.cloudformation.update import _changes_nothing

#: CloudFormation's StatusReason of a change set that changes nothing (the aws CLI's `deploy` looks for it)
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


def _invalid_status(change_set_id: str, status: str):
    from moto.cloudformation.exceptions import CloudFormationError

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatus"

    return InvalidChangeSetStatus(
        f"ChangeSet [{change_set_id}] cannot be executed in its current execution status of [{status}]")


def _previous_value(stack, key: str) -> str:
    """A parameter's value in the stack, as it was given (lists as CloudFormation joins them)."""
    value = stack.parameters.get(key, stack.stack_parameters.get(key))
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def create_change_set(self):
    """Replaces `CloudFormationResponse.create_change_set`."""
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.core.responses import ActionResult

    backend = self.cloudformation_backend
    stack_name = self._get_param("StackName")
    kind = self._get_param("ChangeSetType") or "UPDATE"
    body, url = self._get_param("TemplateBody"), self._get_param("TemplateURL")
    stack = None
    if kind == "UPDATE":
        stack = backend.get_stack(stack_name)
        self.validate_template_and_stack_body()
        if self._get_bool_param("UsePreviousTemplate", False):
            body = stack.template
    elif any(s.name == stack_name for s in backend.stacks.values()):
        raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
    if url:
        body = self._get_stack_from_s3_url(url)
    parameters = {p["ParameterKey"]: (_previous_value(stack, p["ParameterKey"])
                                      if stack is not None and p.get("UsePreviousValue") else p["ParameterValue"])
                  for p in self._get_param("Parameters", [])}
    tags = {t["Key"]: t["Value"] for t in self._get_param("Tags", [])}
    role_arn = self._get_param("RoleARN")
    change_set_id, stack_id = backend.create_change_set(
        stack_name=stack_name, change_set_name=self._get_param("ChangeSetName"), template=body,
        parameters=parameters, description=self._get_param("Description"),
        notification_arns=self._get_param("NotificationARNs", []), tags=tags, role_arn=role_arn,
        change_set_type=kind)
    change_set = backend.change_sets[change_set_id]
    if kind == "UPDATE" and _changes_nothing(stack, _resolve_ssm_references(backend, body), role_arn, parameters,
                                             tags or None):
        change_set.status, change_set.execution_status, change_set.status_reason = "FAILED", "UNAVAILABLE", NO_CHANGES
    else:
        change_set.status, change_set.execution_status, change_set.status_reason = "CREATE_COMPLETE", "AVAILABLE", None
    return ActionResult({"Id": change_set_id, "StackId": stack_id})


def execute_change_set(self, change_set_name: str, stack_name: str | None = None) -> None:
    """Replaces `CloudFormationBackend.execute_change_set`."""
    from moto.cloudformation.models import Stack

    change_set = self.describe_change_set(change_set_name)
    if change_set.execution_status != "AVAILABLE":
        raise _invalid_status(change_set.change_set_id, change_set.execution_status)
    old = self.stacks[change_set.stack_id]
    template = _resolve_ssm_references(self, change_set.template)
    for other in self.change_sets.values():
        if other.stack_id == old.stack_id and other is not change_set and other.execution_status == "AVAILABLE":
            other.execution_status = "OBSOLETE"
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    if change_set.change_set_type == "CREATE":
        stack = Stack(stack_id=old.stack_id, name=old.name, template=template, parameters=change_set.parameters,
                      account_id=self.account_id, region_name=self.region_name,
                      notification_arns=change_set.notification_arns, tags=change_set.tags,
                      role_arn=change_set.role_arn, cross_stack_resources=self.exports)
        stack.events = old.events  # REVIEW_IN_PROGRESS, then the creation's
        stack.creation_time = old.creation_time
        self.stacks[stack.stack_id] = stack
        self._validate_export_uniqueness(stack)
        for export in stack.exports:
            self.exports[export.name] = export
        stack.submitted_template = change_set.template
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
        stack.create_resources()
    else:
        old.update(template, role_arn=change_set.role_arn, parameters=change_set.parameters,
                   tags=change_set.tags or None)
        if not old.status.startswith("UPDATE_ROLLBACK"):  # a rollback put the previous one back
            old.submitted_template = change_set.template
    change_set.execution_status = "EXECUTE_COMPLETE"


def install() -> None:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    CloudFormationResponse.create_change_set = create_change_set
    CloudFormationBackend.execute_change_set = execute_change_set
