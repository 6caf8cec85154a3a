"""AWS::CodeBuild::Project in the emulator's CloudFormation (harness/ext_cloudformation.py), beside an SSM
dynamic reference (also ext_cloudformation), as the project templates use them."""
import json

TEMPLATE = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "{{resolve:ssm:/demo/queue-name}}"}},
        "Seed": {"Type": "AWS::CodeBuild::Project", "Properties": {
            "Name": "sagemaker-demo-seedcode", "ServiceRole": "arn:aws:iam::123456789012:role/r",
            "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2"},
            "Artifacts": {"Type": "NO_ARTIFACTS"},
            "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": "aws/codebuild/standard:7.0"}}},
    },
    "Outputs": {
        "ProjectName": {"Value": {"Ref": "Seed"}},
        "ProjectArn": {"Value": {"Fn::GetAtt": ["Seed", "Arn"]}},
    },
}


def test_ssm_references_resolve_and_codebuild_projects_are_created(aws):
    aws.client("ssm").put_parameter(Name="/demo/queue-name", Value="resolved-queue", Type="String")
    cfn = aws.client("cloudformation")
    cfn.create_stack(StackName="ext-cfn", TemplateBody=json.dumps(TEMPLATE))
    stack = cfn.describe_stacks(StackName="ext-cfn")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ProjectName"] == "sagemaker-demo-seedcode"
    assert outputs["ProjectArn"] == "arn:aws:codebuild:us-east-1:123456789012:project/sagemaker-demo-seedcode"
    assert any(u.endswith("/resolved-queue") for u in aws.client("sqs").list_queues().get("QueueUrls", []))
    codebuild = aws.client("codebuild")
    assert codebuild.list_projects()["projects"] == ["sagemaker-demo-seedcode"]
    build = codebuild.start_build(projectName="sagemaker-demo-seedcode")["build"]
    assert codebuild.batch_get_builds(ids=[build["id"]])["builds"][0]["buildStatus"] == "SUCCEEDED"
    cfn.delete_stack(StackName="ext-cfn")
    assert codebuild.list_projects()["projects"] == []
