"""One base for the resource types the harness adds to moto's CloudFormation: a named resource with one `Fn::GetAtt`
attribute, as its resource provider schema has it (`AWS::CodeBuild::Project` Arn, `AWS::CloudWatch::Alarm` Arn,
`AWS::CloudFormation::StackSet` StackSetId). A subclass names its type, its name property and its attribute, and
says how to read the attribute; CreateStack's `Ref` is the physical id (its name unless the subclass says otherwise).
A mixin: moto finds resource types among the *direct* subclasses of CloudFormationModel, so each type is declared
`class X(NamedModel, CloudFormationModel)`.
"""
from __future__ import annotations

from typing import Any


class NamedModel:
    TYPE: str = ""
    NAME_PROPERTY: str = ""
    ATTRIBUTE: str = "Arn"

    def __init__(self, account_id: str, region: str, name: str):
        self.account_id, self.region, self.name = account_id, region, name

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def attribute(self) -> Any:
        """The value of `Fn::GetAtt <resource>.<ATTRIBUTE>`."""
        raise NotImplementedError

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == cls.ATTRIBUTE

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == self.ATTRIBUTE:
            return self.attribute()
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()
